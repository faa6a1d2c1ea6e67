//! Who may see and do what: the role table of api.md, decided here and nowhere else.
//! Use cases ask these questions; the edges never do.
//!
//! An object the actor may not see is answered as if it did not exist
//! ([`AppError::NotFound`]); an action on something it may see but not take is
//! [`AppError::Forbidden`].

use revshare_core::audit::Object;
use revshare_core::contract::ContractVersions;
use revshare_core::dispute::{DisputeStep, Taker};

use crate::Field;
use crate::{Actor, AppError, Result};
use revshare_core::records::Role;

/// Actions that only some roles may take at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// `POST /v1/events`: hosts, for their own events.
    SubmitUsage,
    AddContractVersion,
    /// Add FX rates or a registry version.
    WriteTables,
    /// Read FX rates and the model registry.
    ReadTables,
    Close,
    ManagePartiesAndTokens,
    VerifyStore,
    /// Read or take contribution steps (further checked per contract and side).
    Contributions,
    Locate,
    VoidEvents,
    /// Register a witness key and cosign checkpoints: every party but the operator,
    /// whose own witness is the checkpoint file beside its key file.
    Witness,
    /// Accept a restored backup's shorter log.
    AcceptRollback,
    /// Copy the store into another and retire it.
    CopyStore,
    /// Record, confirm or withdraw payments (further checked as payer or payee).
    PaymentSteps,
    /// Reverse a confirmed payment.
    ReversePayments,
    /// Read the MAU monitor (further narrowed to hosts by [`sees_mau_of`]).
    Mau,
    /// Read disputes or take their steps (further checked per contract and step).
    Disputes,
}

impl Permission {
    fn allows(self, role: Role) -> bool {
        use Role::*;
        match self {
            Permission::SubmitUsage => role == Host,
            Permission::AddContractVersion
            | Permission::WriteTables
            | Permission::Close
            | Permission::ManagePartiesAndTokens
            | Permission::AcceptRollback
            | Permission::CopyStore => role == Operator,
            Permission::ReadTables | Permission::Contributions | Permission::Locate | Permission::Disputes => {
                role != Beneficiary
            }
            Permission::VerifyStore => matches!(role, Operator | Auditor),
            Permission::VoidEvents => matches!(role, Operator | Host),
            Permission::Witness => role != Operator,
            Permission::PaymentSteps => role != Auditor,
            Permission::ReversePayments => role == Operator,
            Permission::Mau => role != Beneficiary,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Permission::SubmitUsage => "submit usage (hosts do, for their own events)",
            Permission::AddContractVersion => "add contract versions (the operator does)",
            Permission::WriteTables => "add FX rates or registry versions (the operator does)",
            Permission::ReadTables => "read FX rates and the model registry",
            Permission::Close => "close periods (the operator does)",
            Permission::ManagePartiesAndTokens => "manage parties and tokens (the operator does)",
            Permission::VerifyStore => "run audit verify (the operator and auditors do)",
            Permission::Contributions => "take contribution steps",
            Permission::Locate => "locate events",
            Permission::VoidEvents => "void events (the operator, and hosts for their own events)",
            Permission::Witness => {
                "register witness keys or cosign (parties do; the operator's witness is the \
                                    checkpoint file beside its key file)"
            }
            Permission::AcceptRollback => "accept a rollback (the operator does)",
            Permission::CopyStore => "copy the store (the operator does)",
            Permission::PaymentSteps => "record, confirm or withdraw payments (their payers and payees do)",
            Permission::ReversePayments => "reverse payments (the operator does)",
            Permission::Mau => "read the MAU monitor (the operator, licensors, hosts and auditors do)",
            Permission::Disputes => "read or take dispute steps",
        }
    }
}

/// Refuses an action the actor's role never takes.
pub(crate) fn require(actor: &Actor, action: Permission) -> Result<()> {
    if action.allows(actor.role()) {
        return Ok(());
    }
    let role = actor.role().as_str();
    Err(AppError::Forbidden(format!(
        "{} {role} token cannot {}",
        article(role),
        action.describe()
    )))
}

/// `an` before a vowel (`an auditor`, `an operator`), else `a`.
fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// [`require`], for an action a party takes for itself: that party.
pub(crate) fn require_party(actor: &Actor, action: Permission) -> Result<&str> {
    require(actor, action)?;
    actor
        .party()
        .ok_or_else(|| AppError::Forbidden(format!("only a party's token can {}", action.describe())))
}

/// Whether a contract is the actor's own (api.md): the licensor's or host's own
/// contracts, those whose splits name a beneficiary, the ones an auditor's token
/// names; everything for the operator. A token narrowed with `--contract` sees only
/// those.
pub(crate) fn owns_contract(actor: &Actor, contract: &ContractVersions) -> bool {
    if actor
        .contracts()
        .is_some_and(|narrowed| !narrowed.contains(&contract.id))
    {
        return false;
    }
    let Some(party) = actor.party() else {
        // Only the operator at the CLI acts for no party.
        return actor.role() == Role::Operator;
    };
    match actor.role() {
        Role::Operator => true,
        Role::Licensor => contract.licensor() == party,
        Role::Host => contract.host() == party,
        Role::Beneficiary => contract.names_beneficiary(party),
        Role::Auditor => actor.contracts().is_some(),
    }
}

/// Whether the actor reads a contract, its statements, proofs, leaves and inputs:
/// its own, except a beneficiary's, which receives payout notices only.
pub(crate) fn reads_contract(actor: &Actor, contract: &ContractVersions) -> bool {
    reads_statements(actor) && owns_contract(actor, contract)
}

/// Whether the actor sees a host's events (voids, batches): the host itself, and
/// the operator; an auditor or licensor sees them through statements only.
pub(crate) fn owns_events_of(actor: &Actor, host: &str) -> bool {
    match actor.role() {
        Role::Operator => true,
        Role::Host => actor.party() == Some(host),
        _ => false,
    }
}

/// Whether the actor sees a host's unique customers (api.md, MAU): the operator
/// every host's, a host its own, a licensor or an auditor (or an operator token
/// narrowed to contracts) the hosts of its own contracts. The role is checked
/// first ([`Permission::Mau`]).
pub(crate) fn sees_mau_of(actor: &Actor, contracts: &revshare_core::contract::ContractSet, host: &str) -> bool {
    match actor.role() {
        Role::Beneficiary => false,
        Role::Operator if actor.contracts().is_none() => true,
        Role::Host => actor.party() == Some(host),
        // A licensor, an auditor, an operator token narrowed to contracts.
        _ => contracts
            .contracts
            .iter()
            .any(|c| c.host() == host && owns_contract(actor, c)),
    }
}

/// Whether the actor sees that a contract was flagged for its host's unique
/// customers: a contract of its own (a host's token narrowed to contracts sees
/// those only).
pub(crate) fn sees_mau_flag(actor: &Actor, contract: &ContractVersions) -> bool {
    actor.role() != Role::Beneficiary && owns_contract(actor, contract)
}

/// How the actor may void an event of `host`, or `None` when the event is not its
/// to see (answered as never received): the operator any event, a host its own,
/// within the void window. The role is checked first ([`Permission::VoidEvents`]).
pub(crate) fn void_right(actor: &Actor, host: &str) -> Option<VoidRight> {
    if !owns_events_of(actor, host) {
        return None;
    }
    Some(match actor.role() {
        Role::Host => VoidRight::WithinWindow,
        _ => VoidRight::Any,
    })
}

/// See [`void_right`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoidRight {
    Any,
    WithinWindow,
}

/// Whether the actor reads a job: the one that started it (`started_by`, an actor
/// id) or the operator.
pub(crate) fn reads_job(actor: &Actor, started_by: &str) -> bool {
    actor.is_operator() || actor.id() == started_by
}

/// Refuses a contribution step by an actor that only reads contributions (an
/// auditor); the contract is checked readable first.
pub(crate) fn require_contribution_step(actor: &Actor) -> Result<()> {
    match actor.role() {
        Role::Auditor => Err(AppError::Forbidden(
            "an auditor token reads contributions; the parties of the contract take their steps".to_string(),
        )),
        _ => Ok(()),
    }
}

/// What the actor sees of where an event of `host` is counted (see [`LocateScope`]).
pub(crate) fn locate_scope(actor: &Actor, host: Option<&str>) -> LocateScope {
    let own_event = actor.role() == Role::Host && host.is_some() && host == actor.party();
    match (actor.is_operator(), own_event, actor.contracts()) {
        (true, _, _) | (_, true, None) => LocateScope::Everything,
        (_, true, Some(_)) => LocateScope::OwnEventInContracts,
        _ => LocateScope::OwnStatements,
    }
}

/// See [`locate_scope`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocateScope {
    /// Every place and every reason: the operator, a host for its own event.
    Everything,
    /// A host's own event through a token narrowed to contracts: the places and
    /// reasons about those contracts, and its voids.
    OwnEventInContracts,
    /// The places in the statements the actor reads (a licensor, an auditor); for an
    /// event its contracts select, also the reasons about those and its void.
    OwnStatements,
}

/// Whether the actor reads any beneficiary's payout notice (`statement show
/// --beneficiary`): the operator only; a beneficiary reads its own ([`notices_of`]).
pub(crate) fn reads_any_notice(actor: &Actor) -> bool {
    actor.is_operator()
}

/// Whether the actor sees the ledger's accounts between `host` and `beneficiary`
/// on a contract, and the payments between them: the operator all of them, an
/// auditor those of its contracts, any other party those it is a side of, on its
/// own contracts (api.md: a party's own payments and ledger entries).
pub fn sees_account(actor: &Actor, contract: &ContractVersions, host: &str, beneficiary: &str) -> bool {
    if actor.role() == Role::Operator && actor.contracts().is_none() {
        // The operator itself, and at the CLI acting for a party (`--as`), which
        // reads as the operator.
        return true;
    }
    if !owns_contract(actor, contract) {
        return false;
    }
    match actor.role() {
        Role::Auditor | Role::Operator => true,
        _ => actor.party().is_some_and(|p| p == host || p == beneficiary),
    }
}

/// A payment step's taker: the payer records and withdraws, the payee confirms;
/// the operator (not acting for a party) takes any of them. The role is checked
/// first ([`Permission::PaymentSteps`]).
pub fn require_payment_side(actor: &Actor, side: PaymentSide, payer: &str, payee: &str) -> Result<()> {
    require(actor, Permission::PaymentSteps)?;
    let Some(party) = actor.side() else {
        return Ok(());
    };
    let (needed, what) = match side {
        PaymentSide::Payer => (payer, "its payer records or withdraws it"),
        PaymentSide::Payee => (payee, "its payee confirms it"),
    };
    if party == needed {
        return Ok(());
    }
    Err(AppError::Forbidden(format!(
        "{party} cannot take this payment step: {what} ({needed})"
    )))
}

/// The side of a payment that takes a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentSide {
    Payer,
    Payee,
}

/// Reversing a confirmed payment is the operator's own step, never taken for a
/// party (`--as`).
pub fn require_reversal(actor: &Actor) -> Result<()> {
    require(actor, Permission::ReversePayments)?;
    match actor.side() {
        None => Ok(()),
        Some(_) => Err(AppError::Forbidden(
            "only the operator reverses a payment, not a party (drop --as)".to_string(),
        )),
    }
}

/// Whether the actor reads a contract's disputes: the operator all, the licensor
/// and host their own, an auditor those of its contracts (api.md); a beneficiary
/// none ([`Permission::Disputes`]).
pub(crate) fn reads_dispute(actor: &Actor, contract: &ContractVersions) -> bool {
    Permission::Disputes.allows(actor.role()) && (sees_everything(actor) || reads_contract(actor, contract))
}

/// Refuses, before any lookup, a dispute step the actor's role never takes: a
/// beneficiary none, an auditor none (it reads), the operator only `decide` (the
/// parties' steps it takes for a party with `--as`), a party never `decide`.
pub fn require_dispute_role(actor: &Actor, step: DisputeStep) -> Result<()> {
    require(actor, Permission::Disputes)?;
    if actor.role() == Role::Auditor {
        return Err(AppError::Forbidden(
            "an auditor token reads disputes; the parties of the contract take their steps".to_string(),
        ));
    }
    match (step.taker(), actor.side()) {
        (Taker::Operator, None) => Ok(()),
        (Taker::Operator, Some(_)) => Err(AppError::Forbidden(format!(
            "only the operator, the deployment's arbiter, decides an escalated dispute{}",
            if actor.role() == Role::Operator {
                " (drop --as)"
            } else {
                ""
            }
        ))),
        (_, None) => Err(AppError::Forbidden(format!(
            "the parties of the contract take `{}`; the operator decides escalated disputes (take a party's \
             step with --as PARTY)",
            step.as_str()
        ))),
        (_, Some(_)) => Ok(()),
    }
}

/// Who may take a dispute step on `contract` (statements.md, Disputes): the party
/// the actor acts as must be the contract's licensor or host, and the opener
/// (`accept`, `withdraw`), the counterparty (`answer`, `resolve`, `reject`) or
/// either (`open`, `escalate`); `decide` is the operator's own. Returns the party
/// acting (`None` for the operator). The role is checked first
/// ([`require_dispute_role`]); `opener` is `None` for `open`.
pub fn require_dispute_step(
    actor: &Actor,
    step: DisputeStep,
    contract: &ContractVersions,
    opener: Option<&str>,
) -> Result<Option<String>> {
    require_dispute_role(actor, step)?;
    let Some(party) = actor.side() else {
        return Ok(None);
    };
    if party != contract.licensor() && party != contract.host() {
        return Err(AppError::Forbidden(format!(
            "{party} is not a party of {} (its licensor is {}, its host {}): only they take dispute steps",
            contract.id,
            contract.licensor(),
            contract.host()
        )));
    }
    let is_opener = opener.is_some_and(|o| o == party);
    let refused = |who: &str| {
        Err(AppError::Forbidden(format!(
            "{party} cannot {} this dispute: {who} does",
            step.as_str()
        )))
    };
    match step.taker() {
        Taker::Opener if !is_opener => refused("the party that opened it"),
        Taker::Counterparty if is_opener => refused("the other party of the contract"),
        _ => Ok(Some(party.to_string())),
    }
}

/// The party whose payout notices the actor reads instead of statements: a
/// beneficiary's own; `None` for the roles that read statements.
pub(crate) fn notices_of(actor: &Actor) -> Option<&str> {
    match actor.role() {
        Role::Beneficiary => actor.party(),
        _ => None,
    }
}

/// Whether the actor reads statements (every role but a beneficiary, which reads
/// its payout notices).
pub(crate) fn reads_statements(actor: &Actor) -> bool {
    actor.role() != Role::Beneficiary
}

/// Whether the actor reads the whole store's report and entries (the operator);
/// others read what they own (see [`Own`]).
pub(crate) fn sees_everything(actor: &Actor) -> bool {
    actor.is_operator()
}

/// Refuses a token that would see more than its role allows: an auditor's must name
/// the contracts it audits.
pub(crate) fn check_token_scope(role: Role, contracts: &[String]) -> Result<()> {
    if role == Role::Auditor && contracts.is_empty() {
        return Err(AppError::InvalidField(
            Field::Contracts,
            "an auditor token must name at least one contract".to_string(),
        ));
    }
    Ok(())
}

/// "Not found" for what the actor may not see, worded like a missing object.
pub fn hidden(what: impl Into<String>) -> AppError {
    AppError::NotFound(what.into())
}

/// The stored contracts, as a set of versions.
fn contract_set(backend: &mut dyn crate::Backend) -> Result<revshare_core::contract::ContractSet> {
    crate::snapshot::contract_set(&backend.contracts()?)
}

/// The ids of the contracts the actor reads (see [`reads_contract`]).
pub(crate) fn readable_contracts(backend: &mut dyn crate::Backend, actor: &Actor) -> Result<Vec<String>> {
    Ok(contract_set(backend)?
        .contracts
        .iter()
        .filter(|c| reads_contract(actor, c))
        .map(|c| c.id.clone())
        .collect())
}

/// The ids of the contracts that are the actor's own (see [`owns_contract`]).
pub(crate) fn own_contracts(backend: &mut dyn crate::Backend, actor: &Actor) -> Result<Vec<String>> {
    Ok(contract_set(backend)?
        .contracts
        .iter()
        .filter(|c| owns_contract(actor, c))
        .map(|c| c.id.clone())
        .collect())
}

/// Refuses (as not found) a contract the actor does not read.
pub(crate) fn require_readable(
    backend: &mut dyn crate::Backend,
    actor: &Actor,
    contract: &str,
    what: &str,
) -> Result<()> {
    if sees_everything(actor) || readable_contracts(backend, actor)?.iter().any(|c| c == contract) {
        return Ok(());
    }
    Err(hidden(what.to_string()))
}

/// What the actor owns, read once to filter many audit entries.
pub struct Own {
    actor_is_operator: bool,
    role: Role,
    party: Option<String>,
    contracts: Vec<String>,
    hosts: Vec<String>,
    /// The voids the actor follows beyond its own events (see [`Own::follows_selected_voids`]).
    voids: Vec<i64>,
    /// The payments it sees.
    payments: Vec<String>,
    /// The disputes it sees.
    disputes: Vec<String>,
}

impl Own {
    pub fn of(backend: &mut dyn crate::Backend, actor: &Actor) -> Result<Own> {
        let set = contract_set(backend)?;
        let own: Vec<&ContractVersions> = set.contracts.iter().filter(|c| owns_contract(actor, c)).collect();
        let hosts = match actor.role() {
            Role::Host => actor.party().map(str::to_string).into_iter().collect(),
            Role::Auditor => own.iter().map(|c| c.host().to_string()).collect(),
            _ => Vec::new(),
        };
        let payments = crate::payments::list(backend, actor)?
            .into_iter()
            .map(|p| p.payment_id)
            .collect();
        let readable: Vec<String> = own
            .iter()
            .filter(|c| reads_dispute(actor, c))
            .map(|c| c.id.clone())
            .collect();
        let disputes = crate::disputes::ids_on(backend, &readable)?;
        Ok(Own {
            payments,
            disputes,
            actor_is_operator: actor.is_operator(),
            role: actor.role(),
            party: actor.party().map(str::to_string),
            contracts: own.iter().map(|c| c.id.clone()).collect(),
            hosts,
            voids: Vec::new(),
        })
    }

    /// Whether the actor reads the voids of the events its contracts select, with
    /// their reason and actor (api.md: a licensor, who loses the revenue, and an
    /// auditor), whoever the host.
    pub(crate) fn follows_selected_voids(&self) -> bool {
        matches!(self.role, Role::Licensor | Role::Auditor)
    }

    /// The actor's contracts (all of them for the operator).
    pub(crate) fn contracts(&self) -> &[String] {
        &self.contracts
    }

    /// The voids (by number) of events the actor's contracts select.
    pub(crate) fn follow_voids(&mut self, numbers: Vec<i64>) {
        self.voids = numbers;
    }

    /// The hosts whose events the actor follows in the audit log: a host itself, an
    /// auditor the hosts of its contracts.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Whether the actor reads the full audit entry about `object` (every party
    /// reads the chain of all of them).
    pub(crate) fn sees_entry(&self, object: &str) -> bool {
        if self.actor_is_operator {
            return true;
        }
        let Ok(object) = object.parse::<Object>() else {
            return false;
        };
        let party = self.party.as_deref();
        match object {
            Object::Key(_) => true,
            Object::Fx | Object::Registry(_) => Permission::ReadTables.allows(self.role),
            Object::Contract { id: contract, .. } | Object::Contribution { contract, .. } => self.reads(&contract),
            Object::Statement(id) | Object::ClosedAfterTerm(id) => self.reads(id.contract()),
            Object::Events(host) => self.hosts.contains(&host),
            Object::Void { host, number } => self.hosts.contains(&host) || self.voids.contains(&number),
            Object::Party(id) | Object::WitnessKey { party: id, .. } => party == Some(id.as_str()),
            Object::Payment(payment_id) => self.payments.contains(&payment_id),
            Object::Mau { contract, .. } => self.reads(&contract),
            Object::Dispute(dispute_id) => self.disputes.contains(&dispute_id),
            Object::Token(_) => false,
            // About the log itself (a rollback accepted): every party's witness says so.
            Object::Log => true,
        }
    }

    fn reads(&self, contract: &str) -> bool {
        self.role != Role::Beneficiary && self.contracts.iter().any(|c| c == contract)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_table_of_actions() {
        use Permission::*;
        let table: [(Permission, [bool; 5]); 17] = [
            // operator, licensor, host, beneficiary, auditor
            (SubmitUsage, [false, false, true, false, false]),
            (VoidEvents, [true, false, true, false, false]),
            (Locate, [true, true, true, false, true]),
            (AddContractVersion, [true, false, false, false, false]),
            (ReadTables, [true, true, true, false, true]),
            (WriteTables, [true, false, false, false, false]),
            (Close, [true, false, false, false, false]),
            (Contributions, [true, true, true, false, true]),
            (VerifyStore, [true, false, false, false, true]),
            (ManagePartiesAndTokens, [true, false, false, false, false]),
            (Witness, [false, true, true, true, true]),
            (AcceptRollback, [true, false, false, false, false]),
            (CopyStore, [true, false, false, false, false]),
            (PaymentSteps, [true, true, true, true, false]),
            (ReversePayments, [true, false, false, false, false]),
            (Mau, [true, true, true, false, true]),
            (Disputes, [true, true, true, false, true]),
        ];
        for (action, allowed) in table {
            for (role, expected) in Role::ALL.into_iter().zip(allowed) {
                assert_eq!(action.allows(role), expected, "{action:?} by {role:?}");
            }
        }
    }

    /// Refusals read as English: "an auditor token", "a host token" (issue 21, point 10).
    #[test]
    fn a_refusal_names_the_role_with_its_article() {
        let message = |role: Role| {
            let actor = Actor::token("t1", role, "p", None);
            require(&actor, Permission::Close).unwrap_err().to_string()
        };
        assert!(
            message(Role::Auditor).starts_with("an auditor token cannot close"),
            "{}",
            message(Role::Auditor)
        );
        assert!(
            message(Role::Host).starts_with("a host token cannot close"),
            "{}",
            message(Role::Host)
        );
        assert!(message(Role::Licensor).starts_with("a licensor token cannot close"));
        assert!(message(Role::Beneficiary).starts_with("a beneficiary token cannot close"));
    }

    /// The operator at the CLI, then a token of each party role, `acme-cloud` being
    /// the host of the event or job in question.
    fn callers() -> [Actor; 5] {
        [
            Actor::cli(),
            Actor::token("t-licensor", Role::Licensor, "meta", None),
            Actor::token("t-host", Role::Host, "acme-cloud", None),
            Actor::token("t-beneficiary", Role::Beneficiary, "fund", None),
            Actor::token("t-auditor", Role::Auditor, "audit-co", Some(vec!["acme-llama".into()])),
        ]
    }

    #[test]
    fn the_decisions_about_one_object_by_every_caller() {
        use LocateScope::*;
        // operator, licensor, host, beneficiary, auditor
        let void = [Some(VoidRight::Any), None, Some(VoidRight::WithinWindow), None, None];
        let locate = [Everything, OwnStatements, Everything, OwnStatements, OwnStatements];
        let statements = [true, true, true, false, true];
        let notices = [None, None, None, Some("fund"), None];
        let step = [true, true, true, true, false];
        let job_of_the_auditor = [true, false, false, false, true];
        for (index, actor) in callers().iter().enumerate() {
            let role = actor.role();
            assert_eq!(void_right(actor, "acme-cloud"), void[index], "void by {role:?}");
            assert_eq!(
                locate_scope(actor, Some("acme-cloud")),
                locate[index],
                "locate by {role:?}"
            );
            assert_eq!(reads_statements(actor), statements[index], "statements by {role:?}");
            assert_eq!(notices_of(actor), notices[index], "notices by {role:?}");
            assert_eq!(
                require_contribution_step(actor).is_ok(),
                step[index],
                "step by {role:?}"
            );
            assert_eq!(
                reads_job(actor, "t-auditor"),
                job_of_the_auditor[index],
                "job by {role:?}"
            );
            assert_eq!(sees_everything(actor), index == 0, "everything by {role:?}");
        }
    }

    #[test]
    fn another_hosts_events_are_hidden_from_a_host() {
        let host = Actor::token("t-host", Role::Host, "acme-cloud", None);
        assert_eq!(void_right(&host, "orbit-compute"), None);
        assert_eq!(locate_scope(&host, Some("orbit-compute")), LocateScope::OwnStatements);
        assert_eq!(locate_scope(&host, None), LocateScope::OwnStatements);
        let narrowed = Actor::token("t-narrow", Role::Host, "acme-cloud", Some(vec!["acme-llama".into()]));
        assert_eq!(
            locate_scope(&narrowed, Some("acme-cloud")),
            LocateScope::OwnEventInContracts
        );
        assert_eq!(
            void_right(&Actor::cli_as("acme-cloud"), "orbit-compute"),
            Some(VoidRight::Any)
        );
    }

    #[test]
    fn a_party_action_names_the_party_and_an_auditor_token_its_contracts() {
        for actor in callers() {
            let taken = require_party(&actor, Permission::Witness);
            match actor.role() {
                Role::Operator => assert!(matches!(taken, Err(AppError::Forbidden(_)))),
                _ => assert_eq!(taken.ok(), actor.party()),
            }
        }
        assert!(matches!(
            require_party(
                &Actor::token("t-l", Role::Licensor, "meta", None),
                Permission::SubmitUsage
            ),
            Err(AppError::Forbidden(_))
        ));
        for role in Role::ALL {
            assert_eq!(check_token_scope(role, &[]).is_ok(), role != Role::Auditor, "{role:?}");
            assert!(check_token_scope(role, &["acme-llama".to_string()]).is_ok());
        }
    }

    #[test]
    fn payment_steps_by_each_caller() {
        // acme-cloud pays fund. operator, licensor, host, beneficiary, auditor, and
        // the operator acting for fund (`--as fund`).
        let mut callers = callers().to_vec();
        callers.push(Actor::cli_as("fund"));
        let allowed = |result: Result<()>| result.is_ok();
        let table: [(&str, [bool; 6]); 3] = [
            ("record or withdraw", [true, false, true, false, false, false]),
            ("confirm", [true, false, false, true, false, true]),
            ("reverse", [true, false, false, false, false, false]),
        ];
        for (step, expected) in table {
            for (actor, expected) in callers.iter().zip(expected) {
                let result = match step {
                    "record or withdraw" => require_payment_side(actor, PaymentSide::Payer, "acme-cloud", "fund"),
                    "confirm" => require_payment_side(actor, PaymentSide::Payee, "acme-cloud", "fund"),
                    _ => require_reversal(actor),
                };
                assert_eq!(allowed(result), expected, "{step} by {}", actor.id());
            }
        }
    }

    #[test]
    fn audit_entries_seen_by_each_caller() {
        let own = |actor: &Actor| Own {
            actor_is_operator: actor.is_operator(),
            role: actor.role(),
            party: actor.party().map(str::to_string),
            contracts: vec!["acme-llama".into()],
            hosts: match actor.role() {
                Role::Host | Role::Auditor => vec!["acme-cloud".into()],
                _ => Vec::new(),
            },
            // Void 7 is of an event acme-llama selects (its host aside).
            voids: match actor.role() {
                Role::Licensor | Role::Auditor => vec![7],
                _ => Vec::new(),
            },
            payments: match actor.role() {
                Role::Host | Role::Beneficiary | Role::Auditor => vec!["P-000000000001".into()],
                _ => Vec::new(),
            },
            disputes: match actor.role() {
                Role::Beneficiary => Vec::new(),
                _ => vec!["D-000000000001".into()],
            },
        };
        // operator, licensor, host, beneficiary, auditor
        let table: [(&str, [bool; 5]); 26] = [
            ("key:k1", [true; 5]),
            ("dispute:D-000000000001", [true, true, true, false, true]),
            ("dispute:D-00000000000f", [true, false, false, false, false]),
            ("payment:P-000000000001", [true, false, true, true, true]),
            ("payment:P-00000000000f", [true, false, false, false, false]),
            ("log", [true; 5]),
            ("fx", [true, true, true, false, true]),
            ("registry:v2", [true, true, true, false, true]),
            ("contract:acme-llama:v1", [true, true, true, false, true]),
            ("contract:other:v1", [true, false, false, false, false]),
            ("statement:acme-llama/2026-10", [true, true, true, false, true]),
            ("closed:acme-llama/2026-11", [true, true, true, false, true]),
            ("closed:other/2026-11", [true, false, false, false, false]),
            ("contribution:acme-llama:3", [true, true, true, false, true]),
            ("events:acme-cloud", [true, false, true, false, true]),
            ("void:orbit-compute:1", [true, false, false, false, false]),
            ("void:orbit-compute:7", [true, true, false, false, true]),
            ("void:acme-cloud:2", [true, false, true, false, true]),
            // A host named with colons is not another host's prefix.
            ("events:acme-cloud:eu", [true, false, false, false, false]),
            ("void:acme-cloud:eu:3", [true, false, false, false, false]),
            ("party:fund", [true, false, false, true, false]),
            ("witness_key:meta:1", [true, true, false, false, false]),
            ("token:t1", [true, false, false, false, false]),
            ("mau:acme-llama:2026-10", [true, true, true, false, true]),
            ("mau:other:2026-10", [true, false, false, false, false]),
            ("not an object", [true, false, false, false, false]),
        ];
        for (object, seen) in table {
            for (actor, expected) in callers().iter().zip(seen) {
                assert_eq!(
                    own(actor).sees_entry(object),
                    expected,
                    "{object} by {:?}",
                    actor.role()
                );
            }
        }
    }
}
