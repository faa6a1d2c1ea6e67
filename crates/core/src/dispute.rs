//! Disputes of closed statements (statements.md, Disputes), pure: the id, the
//! statuses and steps, the transition table, who takes each step, when a dispute
//! expires or is finished, and how a resolved amount is split. The application
//! layer stores them, checks the evidence and decides access; a close carries each
//! resolved non-zero dispute once as a `dispute` adjustment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::audit::Seq;
use crate::contract::{Contract, Party};
use crate::money::{split_largest_remainder, Decimal};

/// Seconds a rejected dispute may still be escalated after its rejection (14 days).
pub const ESCALATION_SECONDS: i64 = 14 * 86_400;

/// A dispute's id: `D-` and 12 lowercase hex digits (random, drawn by the app).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DisputeId(String);

impl DisputeId {
    /// The id of six random bytes.
    pub fn from_bytes(bytes: [u8; 6]) -> DisputeId {
        DisputeId(format!("D-{}", hex::encode(bytes)))
    }

    /// An id as written, or `None` when it is not of that form.
    pub fn parse(text: &str) -> Option<DisputeId> {
        let digits = text.strip_prefix("D-")?;
        let ok = digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| DisputeId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DisputeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a dispute stands. `Expired` is never stored: a dispute still open,
/// answered or offered when its window ends reads as expired from then on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    Open,
    Answered,
    Offered,
    Resolved,
    Rejected,
    Withdrawn,
    Escalated,
    Expired,
}

impl DisputeStatus {
    pub const ALL: [DisputeStatus; 8] = [
        DisputeStatus::Open,
        DisputeStatus::Answered,
        DisputeStatus::Offered,
        DisputeStatus::Resolved,
        DisputeStatus::Rejected,
        DisputeStatus::Withdrawn,
        DisputeStatus::Escalated,
        DisputeStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Open => "open",
            DisputeStatus::Answered => "answered",
            DisputeStatus::Offered => "offered",
            DisputeStatus::Resolved => "resolved",
            DisputeStatus::Rejected => "rejected",
            DisputeStatus::Withdrawn => "withdrawn",
            DisputeStatus::Escalated => "escalated",
            DisputeStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<DisputeStatus> {
        DisputeStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Open, answered or offered: what expires when the window ends.
    fn awaits_parties(self) -> bool {
        matches!(
            self,
            DisputeStatus::Open | DisputeStatus::Answered | DisputeStatus::Offered
        )
    }
}

/// A step on a dispute; `Open` is the first, the others are the table's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStep {
    Open,
    Answer,
    Resolve,
    Accept,
    Reject,
    Withdraw,
    Escalate,
    Decide,
}

impl DisputeStep {
    pub const ALL: [DisputeStep; 8] = [
        DisputeStep::Open,
        DisputeStep::Answer,
        DisputeStep::Resolve,
        DisputeStep::Accept,
        DisputeStep::Reject,
        DisputeStep::Withdraw,
        DisputeStep::Escalate,
        DisputeStep::Decide,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStep::Open => "open",
            DisputeStep::Answer => "answer",
            DisputeStep::Resolve => "resolve",
            DisputeStep::Accept => "accept",
            DisputeStep::Reject => "reject",
            DisputeStep::Withdraw => "withdraw",
            DisputeStep::Escalate => "escalate",
            DisputeStep::Decide => "decide",
        }
    }

    pub fn parse(text: &str) -> Option<DisputeStep> {
        DisputeStep::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Who takes the step (the table's `by` column).
    pub fn taker(self) -> Taker {
        match self {
            DisputeStep::Open => Taker::EitherParty,
            DisputeStep::Answer | DisputeStep::Resolve | DisputeStep::Reject => Taker::Counterparty,
            DisputeStep::Accept | DisputeStep::Withdraw => Taker::Opener,
            DisputeStep::Escalate => Taker::EitherParty,
            DisputeStep::Decide => Taker::Operator,
        }
    }

    /// The statuses the step is taken from, as the table lists them (a rejected
    /// dispute is escalated only within its 14 days: [`next`] checks that).
    pub fn from(self) -> &'static [DisputeStatus] {
        use DisputeStatus::*;
        match self {
            DisputeStep::Open => &[],
            DisputeStep::Answer => &[Open],
            DisputeStep::Resolve => &[Open, Answered],
            DisputeStep::Accept => &[Offered],
            DisputeStep::Reject | DisputeStep::Withdraw => &[Open, Answered, Offered],
            DisputeStep::Escalate => &[Open, Answered, Offered, Rejected],
            DisputeStep::Decide => &[Escalated],
        }
    }
}

/// Who takes a step: a party of the disputed contract (the one that opened the
/// dispute, the other one, or either), or the operator, the deployment's arbiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taker {
    Opener,
    Counterparty,
    EitherParty,
    Operator,
}

/// The times that decide a dispute's status: now, the end of its window, and when
/// it was rejected (Unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub now: i64,
    /// `closed_at + dispute_window_days × 86400`, exclusive.
    pub window_ends: i64,
    pub rejected_at: Option<i64>,
}

impl Clock {
    /// A stored status as of now: open, answered or offered reads as expired once
    /// the window has ended.
    pub fn status(&self, stored: DisputeStatus) -> DisputeStatus {
        if stored.awaits_parties() && self.now >= self.window_ends {
            DisputeStatus::Expired
        } else {
            stored
        }
    }

    /// Whether a rejected dispute may still be escalated (within 14 days of its
    /// rejection, exclusive).
    pub fn escalation_open(&self) -> bool {
        self.rejected_at.is_some_and(|at| self.now < at + ESCALATION_SECONDS)
    }

    /// Whether the dispute is unfinished (open, answered, offered, escalated, or
    /// rejected within its 14 days): at most one per statement line.
    pub fn unfinished(&self, stored: DisputeStatus) -> bool {
        match self.status(stored) {
            DisputeStatus::Open | DisputeStatus::Answered | DisputeStatus::Offered | DisputeStatus::Escalated => true,
            DisputeStatus::Rejected => self.escalation_open(),
            DisputeStatus::Resolved | DisputeStatus::Withdrawn | DisputeStatus::Expired => false,
        }
    }
}

/// The transition table: the status a step leads to from `stored` as of `clock`,
/// or `None` when the step cannot be taken then. `whole` says whether a `resolve`
/// grants the whole claim (resolved) or less (offered).
pub fn next(stored: DisputeStatus, step: DisputeStep, clock: &Clock, whole: bool) -> Option<DisputeStatus> {
    let now = clock.status(stored);
    if !step.from().contains(&now) {
        return None;
    }
    Some(match step {
        DisputeStep::Open => return None,
        DisputeStep::Answer => DisputeStatus::Answered,
        DisputeStep::Resolve if whole => DisputeStatus::Resolved,
        DisputeStep::Resolve => DisputeStatus::Offered,
        DisputeStep::Accept | DisputeStep::Decide => DisputeStatus::Resolved,
        DisputeStep::Reject => DisputeStatus::Rejected,
        DisputeStep::Withdraw => DisputeStatus::Withdrawn,
        DisputeStep::Escalate if now == DisputeStatus::Rejected && !clock.escalation_open() => return None,
        DisputeStep::Escalate => DisputeStatus::Escalated,
    })
}

/// Whether `amount` may settle a claim: between 0 and the claim, inclusive, with
/// the claim's sign.
pub fn within_claim(amount: &Decimal, claim: &Decimal) -> bool {
    if amount.is_zero() {
        return true;
    }
    amount.is_negative() == claim.is_negative() && !claim.abs().sub(&amount.abs()).is_negative()
}

/// A resolved amount's parts per beneficiary: a line's dispute by that line model's
/// split rule in the disputed statement's version, a whole-statement dispute by its
/// `*` rule (largest remainder, every beneficiary of the rule listed).
pub fn split(version: &Contract, model: Option<&str>, amount: &Decimal) -> BTreeMap<String, Decimal> {
    let scale = version.rounding.scale;
    let Some(model) = model else {
        return crate::rating::split_by_catch_all(version, amount, scale)
            .into_iter()
            .collect();
    };
    let rule = version.split_for(model);
    let weights: Vec<Decimal> = rule.shares.values().cloned().collect();
    rule.shares
        .keys()
        .cloned()
        .zip(split_largest_remainder(amount, &weights, scale))
        .collect()
}

/// An event given as evidence: counted in the disputed statement.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Evidence {
    pub source: String,
    pub id: String,
}

/// One step taken, with its actor (audit log actor), the party it acted as, and
/// its time and entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepTaken {
    pub step: DisputeStep,
    pub actor: String,
    /// The party of the contract that took it; `None` for the operator's `decide`.
    pub party: Option<String>,
    pub at: String,
    pub seq: Seq,
    /// `resolve` and `decide`: the amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// `answer` and `reject`: the note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A dispute as stored (audited: every step's entry covers the whole row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DisputeRow {
    pub dispute_id: String,
    pub contract: String,
    pub statement_id: String,
    /// The disputed line, or both `None` for the whole statement.
    pub model: Option<String>,
    pub use_case: Option<String>,
    /// The party that opened it, and its side in the contract.
    pub opener: String,
    pub opener_side: Party,
    pub counterparty: String,
    pub reason: String,
    /// Signed, at the contract's scale: positive means the host owes more.
    pub claim: String,
    pub evidence: Vec<Evidence>,
    /// The end of the window (RFC 3339, exclusive).
    pub window_ends: String,
    /// As stored (never `expired`; see [`Clock::status`]).
    pub status: DisputeStatus,
    /// The amount offered or resolved.
    pub amount: Option<String>,
    pub steps: Vec<StepTaken>,
    /// The seq of its opening: disputes are listed in this order.
    pub opened_seq: Seq,
    /// The seq at which it was resolved: a close as of that seq or later carries it.
    pub resolved_seq: Option<Seq>,
    #[serde(skip)]
    pub seq: Seq,
}

impl DisputeRow {
    /// When it was last rejected, as the step's time says (RFC 3339).
    pub fn rejected_at(&self) -> Option<&str> {
        self.steps
            .iter()
            .rev()
            .find(|s| s.step == DisputeStep::Reject)
            .map(|s| s.at.as_str())
    }

    /// Whether it disputes the same part of a statement as `(model, use_case)`: the
    /// same line, or either of them the whole statement.
    pub fn overlaps(&self, model: Option<&str>, use_case: Option<&str>) -> bool {
        match (self.model.as_deref(), model) {
            (None, _) | (_, None) => true,
            (Some(a), Some(b)) => a == b && self.use_case.as_deref() == use_case,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(now: i64) -> Clock {
        Clock {
            now,
            window_ends: 1000,
            rejected_at: None,
        }
    }

    #[test]
    fn ids_are_d_and_twelve_lowercase_hex_digits() {
        let id = DisputeId::from_bytes([0x3f, 0x9a, 0x0c, 0x41, 0xb2, 0xe7]);
        assert_eq!(id.as_str(), "D-3f9a0c41b2e7");
        assert_eq!(DisputeId::parse("D-3f9a0c41b2e7"), Some(id));
        for bad in [
            "D-3F9A0C41B2E7",
            "D-3f9a0c41b2e",
            "P-3f9a0c41b2e7",
            "D-3f9a0c41b2e7a",
            "D-3f9a0c41b2eg",
        ] {
            assert_eq!(DisputeId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_transition_table() {
        use DisputeStatus::{Answered, Escalated, Offered, Rejected, Resolved, Withdrawn};
        use DisputeStep::{Accept, Answer, Decide, Escalate, Reject, Resolve, Withdraw};
        let open = DisputeStatus::Open;
        let before = clock(999);
        // (from, step, whole, to)
        let table = [
            (open, Answer, false, Some(Answered)),
            (Answered, Answer, false, None),
            (open, Resolve, true, Some(Resolved)),
            (Answered, Resolve, false, Some(Offered)),
            (Offered, Resolve, false, None),
            (Offered, Accept, false, Some(Resolved)),
            (open, Accept, false, None),
            (open, Reject, false, Some(Rejected)),
            (Offered, Reject, false, Some(Rejected)),
            (Escalated, Reject, false, None),
            (Answered, Withdraw, false, Some(Withdrawn)),
            (Escalated, Withdraw, false, None),
            (Offered, Escalate, false, Some(Escalated)),
            (Escalated, Escalate, false, None),
            (Escalated, Decide, false, Some(Resolved)),
            (open, Decide, false, None),
            (Resolved, Reject, false, None),
            (Withdrawn, Escalate, false, None),
            (open, DisputeStep::Open, false, None),
        ];
        for (from, step, whole, to) in table {
            assert_eq!(next(from, step, &before, whole), to, "{step:?} from {from:?}");
        }
    }

    #[test]
    fn the_window_is_exclusive_and_expiry_ends_the_parties_steps() {
        assert_eq!(clock(999).status(DisputeStatus::Offered), DisputeStatus::Offered);
        assert_eq!(clock(1000).status(DisputeStatus::Offered), DisputeStatus::Expired);
        assert_eq!(clock(1000).status(DisputeStatus::Escalated), DisputeStatus::Escalated);
        for step in DisputeStep::ALL {
            assert_eq!(next(DisputeStatus::Open, step, &clock(1000), true), None, "{step:?}");
        }
        assert!(!clock(1000).unfinished(DisputeStatus::Open));
        assert_eq!(
            next(DisputeStatus::Escalated, DisputeStep::Decide, &clock(5000), false),
            Some(DisputeStatus::Resolved)
        );
    }

    #[test]
    fn a_rejected_dispute_escalates_within_fourteen_days_whatever_the_window() {
        let rejected = |now| Clock {
            now,
            window_ends: 100,
            rejected_at: Some(50),
        };
        let last = 50 + ESCALATION_SECONDS - 1;
        assert_eq!(
            next(DisputeStatus::Rejected, DisputeStep::Escalate, &rejected(last), false),
            Some(DisputeStatus::Escalated)
        );
        assert!(rejected(last).unfinished(DisputeStatus::Rejected));
        assert_eq!(
            next(
                DisputeStatus::Rejected,
                DisputeStep::Escalate,
                &rejected(last + 1),
                false
            ),
            None
        );
        assert!(!rejected(last + 1).unfinished(DisputeStatus::Rejected));
    }

    #[test]
    fn an_amount_within_a_claim() {
        let d = |t: &str| Decimal::parse(t, 2).unwrap();
        for (amount, claim, ok) in [
            ("0", "10", true),
            ("10", "10", true),
            ("4.5", "10", true),
            ("10.01", "10", false),
            ("-1", "10", false),
            ("-10", "-10", true),
            ("-3", "-10", true),
            ("-10.01", "-10", false),
            ("3", "-10", false),
            ("0", "-10", true),
        ] {
            assert_eq!(within_claim(&d(amount), &d(claim)), ok, "{amount} of {claim}");
        }
    }

    #[test]
    fn a_step_taken_by_whom() {
        use DisputeStep::*;
        assert_eq!(Answer.taker(), Taker::Counterparty);
        assert_eq!(Resolve.taker(), Taker::Counterparty);
        assert_eq!(Reject.taker(), Taker::Counterparty);
        assert_eq!(Accept.taker(), Taker::Opener);
        assert_eq!(Withdraw.taker(), Taker::Opener);
        assert_eq!(Escalate.taker(), Taker::EitherParty);
        assert_eq!(Decide.taker(), Taker::Operator);
        for step in DisputeStep::ALL {
            assert_eq!(DisputeStep::parse(step.as_str()), Some(step));
        }
        for status in DisputeStatus::ALL {
            assert_eq!(DisputeStatus::parse(status.as_str()), Some(status));
        }
    }
}
