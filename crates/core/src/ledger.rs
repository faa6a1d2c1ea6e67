//! The ledger's rules, pure (statements.md, Ledger): the legs a closed statement and
//! a confirmed or reversed payment post, and the ageing of what a host owes. Legs
//! are on accounts `receivable:<beneficiary>/<host>` and `payable:<host>/<beneficiary>`
//! per contract and currency; every transaction's legs sum to zero, and what a host
//! owes a beneficiary (outstanding) is the sum of the legs on the receivable account,
//! never a stored counter.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::money::Decimal;
use crate::period::Day;
use crate::statement::StatementId;

/// Which of the two accounts between a host and a beneficiary a leg is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// `receivable:<beneficiary>/<host>`: what the beneficiary is owed.
    Receivable,
    /// `payable:<host>/<beneficiary>`: what the host owes, with the opposite sign.
    Payable,
}

impl Side {
    /// Its stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Receivable => "receivable",
            Side::Payable => "payable",
        }
    }

    pub fn parse(text: &str) -> Option<Side> {
        match text {
            "receivable" => Some(Side::Receivable),
            "payable" => Some(Side::Payable),
            _ => None,
        }
    }

    /// The account's name.
    pub fn account(self, host: &str, beneficiary: &str) -> String {
        match self {
            Side::Receivable => format!("receivable:{beneficiary}/{host}"),
            Side::Payable => format!("payable:{host}/{beneficiary}"),
        }
    }
}

/// What posted a transaction: its text is the ledger's transaction id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Posting {
    /// `statement:<statement_id>`: a close's postings of one statement's payouts.
    Statement(StatementId),
    /// `payment:<payment_id>`: a payment's confirmation.
    Payment(String),
    /// `reversal:<payment_id>`: the operator's reversal of a confirmed payment.
    Reversal(String),
}

impl std::fmt::Display for Posting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Posting::Statement(id) => write!(f, "statement:{id}"),
            Posting::Payment(id) => write!(f, "payment:{id}"),
            Posting::Reversal(id) => write!(f, "reversal:{id}"),
        }
    }
}

impl Posting {
    /// A transaction id as [`Posting`]'s `Display` writes it.
    pub fn parse(text: &str) -> Option<Posting> {
        match text.split_once(':')? {
            ("statement", id) => StatementId::parse(id).map(Posting::Statement),
            ("payment", id) => Some(Posting::Payment(id.to_string())),
            ("reversal", id) => Some(Posting::Reversal(id.to_string())),
            _ => None,
        }
    }
}

/// One leg: an amount on one account, dated; a statement's legs also carry the
/// day the statement is due (what ageing reads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leg {
    pub posting: Posting,
    pub host: String,
    pub beneficiary: String,
    pub side: Side,
    pub amount: Decimal,
    pub day: Day,
    pub due: Option<Day>,
}

/// The pair of legs that moves `amount` onto what `host` owes `beneficiary`
/// (`+amount` receivable, `−amount` payable): the one shape every posting has.
fn pair(posting: &Posting, host: &str, beneficiary: &str, amount: &Decimal, day: Day, due: Option<Day>) -> [Leg; 2] {
    let leg = |side: Side, amount: Decimal| Leg {
        posting: posting.clone(),
        host: host.to_string(),
        beneficiary: beneficiary.to_string(),
        side,
        amount,
        day,
        due,
    };
    [leg(Side::Receivable, amount.clone()), leg(Side::Payable, amount.neg())]
}

/// A closed statement's legs: for each beneficiary `b` with payout `p`, `+p` on
/// `receivable:b/host` and `−p` on `payable:host/b`, dated `closed`, due `due`.
/// A payout of zero posts nothing, and neither does the host's own share (a host
/// owes itself nothing).
pub fn statement_legs<'p>(
    statement_id: &StatementId,
    host: &str,
    payouts: impl IntoIterator<Item = (&'p str, &'p Decimal)>,
    closed: Day,
    due: Day,
) -> Vec<Leg> {
    let posting = Posting::Statement(statement_id.clone());
    payouts
        .into_iter()
        .filter(|(b, p)| *b != host && !p.is_zero())
        .flat_map(|(b, p)| pair(&posting, host, b, p, closed, Some(due)))
        .collect()
}

/// Which way a payment goes between a contract's host and a beneficiary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The host pays what it owes.
    ToBeneficiary,
    /// The beneficiary refunds the host.
    ToHost,
}

/// A confirmed payment's legs, dated its day: `x` from the host to `b` posts `−x` on
/// `receivable:b/host` and `+x` on `payable:host/b`; a refund the opposite.
pub fn payment_legs(
    payment_id: &str,
    host: &str,
    beneficiary: &str,
    direction: Direction,
    amount: &Decimal,
    day: Day,
) -> Vec<Leg> {
    assert!(!amount.is_negative() && !amount.is_zero(), "a payment is positive");
    let posting = Posting::Payment(payment_id.to_string());
    let owed = match direction {
        Direction::ToBeneficiary => amount.neg(),
        Direction::ToHost => amount.clone(),
    };
    pair(&posting, host, beneficiary, &owed, day, None).to_vec()
}

/// A reversal's legs: the confirmation's, negated, dated the day of the reversal.
pub fn reversal_legs(
    payment_id: &str,
    host: &str,
    beneficiary: &str,
    direction: Direction,
    amount: &Decimal,
    day: Day,
) -> Vec<Leg> {
    payment_legs(payment_id, host, beneficiary, direction, amount, day)
        .into_iter()
        .map(|leg| Leg {
            posting: Posting::Reversal(payment_id.to_string()),
            amount: leg.amount.neg(),
            ..leg
        })
        .collect()
}

/// The sum of each transaction's legs, by transaction: all zero in a sound ledger.
pub fn transaction_sums<'l>(legs: impl IntoIterator<Item = &'l Leg>) -> BTreeMap<Posting, Decimal> {
    let mut sums: BTreeMap<Posting, Decimal> = BTreeMap::new();
    for leg in legs {
        let sum = sums.entry(leg.posting.clone()).or_default();
        *sum = sum.add(&leg.amount);
    }
    sums
}

/// Ageing buckets of what is overdue, by days past due.
pub const BUCKETS: [&str; 5] = ["current", "1-30", "31-60", "61-90", "91+"];

/// The bucket of a statement due on `due`, as of `as_of`.
pub fn bucket(due: Day, as_of: Day) -> usize {
    match as_of.0 - due.0 {
        days if days <= 0 => 0,
        1..=30 => 1,
        31..=60 => 2,
        61..=90 => 3,
        _ => 4,
    }
}

/// What is still owed on one account, by ageing bucket ([`BUCKETS`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ageing {
    pub buckets: [Decimal; 5],
    /// Credits left over once every positive statement is paid: the host is owed
    /// this much (zero or negative).
    pub unapplied: Decimal,
}

/// Ages the receivable legs of one account dated at or before `as_of`: credits
/// (payments, negative statements, reversals' negative legs) pay the oldest positive
/// statements first (by due day, then posting day), and each statement's unpaid
/// rest is aged by its due day. A reversal's positive leg (a payment undone) owes
/// again from the day it is dated. The buckets and `unapplied` sum to the
/// outstanding amount.
pub fn age<'l>(receivable: impl IntoIterator<Item = &'l Leg>, as_of: Day) -> Ageing {
    let dated = receivable.into_iter().map(|leg| {
        debug_assert_eq!(leg.side, Side::Receivable);
        Dated {
            amount: leg.amount.clone(),
            day: leg.day,
            due: leg.due,
        }
    });
    age_dated(dated, as_of)
}

/// What ageing reads of a receivable leg: its amount, day and due day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dated {
    pub amount: Decimal,
    pub day: Day,
    pub due: Option<Day>,
}

/// [`age`] over the receivable legs' amounts and days alone.
pub fn age_dated(receivable: impl IntoIterator<Item = Dated>, as_of: Day) -> Ageing {
    let mut debits: Vec<(Day, Day, Decimal)> = Vec::new();
    let mut credit = Decimal::zero();
    for leg in receivable {
        if leg.day > as_of {
            continue;
        }
        if leg.amount.is_negative() {
            credit = credit.add(&leg.amount.neg());
        } else {
            debits.push((leg.due.unwrap_or(leg.day), leg.day, leg.amount));
        }
    }
    debits.sort_by_key(|a| (a.0, a.1));
    let mut ageing = Ageing::default();
    for (due, _, amount) in debits {
        let applied = if credit >= amount {
            amount.clone()
        } else {
            credit.clone()
        };
        credit = credit.sub(&applied);
        let rest = amount.sub(&applied);
        let index = bucket(due, as_of);
        ageing.buckets[index] = ageing.buckets[index].add(&rest);
    }
    ageing.unapplied = credit.neg();
    ageing
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text, 6).expect("a test amount")
    }

    fn id(text: &str) -> StatementId {
        StatementId::parse(text).expect("a test statement id")
    }

    #[test]
    fn the_buckets_count_days_past_due() {
        let due = Day::from_ymd(2026, 11, 30);
        let cases = [
            ((2026, 11, 30), 0),
            ((2026, 12, 1), 1),
            ((2026, 12, 30), 1),
            ((2026, 12, 31), 2),
            ((2027, 1, 29), 2),
            ((2027, 1, 30), 3),
            ((2027, 2, 28), 3),
            ((2027, 3, 1), 4),
        ];
        for ((y, m, day), expected) in cases {
            assert_eq!(bucket(due, Day::from_ymd(y, m, day)), expected, "{y}-{m}-{day}");
        }
    }

    fn amounts() -> impl Strategy<Value = Decimal> {
        (-1_000_000i64..1_000_000).prop_map(|units| Decimal::from_units(units, 2))
    }

    proptest! {
        #[test]
        fn every_transaction_sums_to_zero_and_a_statement_posts_its_payouts(
            payouts in proptest::collection::btree_map("[a-d]", amounts(), 0..5),
            paid in 1i64..1_000_000,
        ) {
            let payouts: Vec<(String, Decimal)> = payouts.into_iter().collect();
            let mut legs = statement_legs(
                &id("c/2026-10"),
                "h",
                payouts.iter().map(|(b, p)| (b.as_str(), p)),
                Day(100),
                Day(130),
            );
            let amount = Decimal::from_units(paid, 2);
            legs.extend(payment_legs("P-1", "h", "a", Direction::ToBeneficiary, &amount, Day(101)));
            legs.extend(reversal_legs("P-1", "h", "a", Direction::ToBeneficiary, &amount, Day(102)));
            legs.extend(payment_legs("P-2", "h", "b", Direction::ToHost, &amount, Day(103)));
            for (posting, sum) in transaction_sums(&legs) {
                prop_assert!(sum.is_zero(), "{posting} sums to {sum}");
            }
            for (b, p) in &payouts {
                let posted = legs
                    .iter()
                    .filter(|l| l.posting == Posting::Statement(id("c/2026-10")))
                    .filter(|l| l.side == Side::Receivable && l.beneficiary == *b)
                    .fold(Decimal::zero(), |s, l| s.add(&l.amount));
                prop_assert_eq!(&posted, if b == "h" { &Decimal::zero() } else { p });
            }
        }

        #[test]
        fn ageing_sums_to_the_outstanding_amount(
            statements in proptest::collection::vec((amounts(), 0i32..200), 0..8),
            payments in proptest::collection::vec((1i64..1_000_000, 0i32..200), 0..8),
            as_of in 0i32..300,
        ) {
            let mut legs = Vec::new();
            for (i, (p, day)) in statements.iter().enumerate() {
                legs.extend(statement_legs(&id(&format!("s{i}/2026-10")), "h", [("b", p)], Day(*day), Day(day + 30)));
            }
            for (i, (x, day)) in payments.iter().enumerate() {
                let x = Decimal::from_units(*x, 2);
                legs.extend(payment_legs(&format!("P-{i}"), "h", "b", Direction::ToBeneficiary, &x, Day(*day)));
            }
            let receivable: Vec<&Leg> = legs.iter().filter(|l| l.side == Side::Receivable).collect();
            let outstanding = receivable
                .iter()
                .filter(|l| l.day.0 <= as_of)
                .fold(Decimal::zero(), |s, l| s.add(&l.amount));
            let ageing = age(receivable.iter().copied(), Day(as_of));
            let total = ageing.buckets.iter().fold(ageing.unapplied.clone(), |s, b| s.add(b));
            prop_assert_eq!(total, outstanding);
            prop_assert!(ageing.buckets.iter().all(|b| !b.is_negative()));
            prop_assert!(!ageing.unapplied.is_negative() || ageing.buckets.iter().all(Decimal::is_zero));
        }
    }

    #[test]
    fn credits_pay_the_oldest_statements_first() {
        // Due 2026-11-30 (100.00) and 2026-12-31 (50.00); 120.00 paid: the older is
        // paid, 30.00 of the newer is left, 1 day past due on 2027-01-01.
        let first = statement_legs(
            &id("s1/2026-10"),
            "h",
            [("b", &d("100.00"))],
            Day::from_ymd(2026, 11, 1),
            Day::from_ymd(2026, 11, 30),
        );
        let second = statement_legs(
            &id("s2/2026-10"),
            "h",
            [("b", &d("50.00"))],
            Day::from_ymd(2026, 12, 1),
            Day::from_ymd(2026, 12, 31),
        );
        let paid = payment_legs(
            "P-1",
            "h",
            "b",
            Direction::ToBeneficiary,
            &d("120.00"),
            Day::from_ymd(2026, 12, 5),
        );
        let legs: Vec<Leg> = [first, second, paid].concat();
        let receivable = legs.iter().filter(|l| l.side == Side::Receivable);
        let ageing = age(receivable, Day::from_ymd(2027, 1, 1));
        assert_eq!(ageing.buckets[1], d("30.00"));
        assert!(ageing.buckets[0].is_zero() && ageing.buckets[2].is_zero());
        assert!(ageing.unapplied.is_zero());
    }
}
