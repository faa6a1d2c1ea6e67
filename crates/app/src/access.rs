//! Who may see and do what: the role table of api.md, decided here and nowhere else.
//! Use cases ask these questions; the edges never do.
//!
//! An object the actor may not see is answered as if it did not exist
//! ([`AppError::NotFound`]); an action on something it may see but not take is
//! [`AppError::Forbidden`].

use revshare_core::contract::ContractVersions;

use crate::{Actor, AppError, Result, Role};

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
            | Permission::AcceptRollback => role == Operator,
            Permission::ReadTables | Permission::Contributions | Permission::Locate => role != Beneficiary,
            Permission::VerifyStore => matches!(role, Operator | Auditor),
            Permission::VoidEvents => matches!(role, Operator | Host),
            Permission::Witness => role != Operator,
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
        }
    }
}

/// Refuses an action the actor's role never takes.
pub fn require(actor: &Actor, action: Permission) -> Result<()> {
    if action.allows(actor.role()) {
        return Ok(());
    }
    Err(AppError::Forbidden(format!(
        "a {} token cannot {}",
        actor.role().as_str(),
        action.describe()
    )))
}

/// Whether a contract is the actor's own (api.md): the licensor's or host's own
/// contracts, those whose splits name a beneficiary, the ones an auditor's token
/// names; everything for the operator. A token narrowed with `--contract` sees only
/// those.
pub fn owns_contract(actor: &Actor, contract: &ContractVersions) -> bool {
    if actor
        .contracts()
        .is_some_and(|narrowed| !narrowed.contains(&contract.id))
    {
        return false;
    }
    let party = actor.party().unwrap_or_default();
    match actor.role() {
        Role::Operator => true,
        Role::Licensor => contract.licensor() == party,
        Role::Host => contract.host() == party,
        Role::Beneficiary => contract
            .versions
            .iter()
            .any(|v| v.splits.iter().any(|s| s.shares.contains_key(party))),
        Role::Auditor => actor.contracts().is_some(),
    }
}

/// Whether the actor reads a contract, its statements, proofs, leaves and inputs:
/// its own, except a beneficiary's, which receives payout notices only.
pub fn reads_contract(actor: &Actor, contract: &ContractVersions) -> bool {
    actor.role() != Role::Beneficiary && owns_contract(actor, contract)
}

/// Whether the actor sees a host's events (voids, batches): the host itself, and
/// the operator; an auditor or licensor sees them through statements only.
pub fn owns_events_of(actor: &Actor, host: &str) -> bool {
    match actor.role() {
        Role::Operator => true,
        Role::Host => actor.party() == Some(host),
        _ => false,
    }
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
pub fn readable_contracts(backend: &mut dyn crate::Backend, actor: &Actor) -> Result<Vec<String>> {
    Ok(contract_set(backend)?
        .contracts
        .iter()
        .filter(|c| reads_contract(actor, c))
        .map(|c| c.id.clone())
        .collect())
}

/// The ids of the contracts that are the actor's own (see [`owns_contract`]).
pub fn own_contracts(backend: &mut dyn crate::Backend, actor: &Actor) -> Result<Vec<String>> {
    Ok(contract_set(backend)?
        .contracts
        .iter()
        .filter(|c| owns_contract(actor, c))
        .map(|c| c.id.clone())
        .collect())
}

/// Refuses (as not found) a contract the actor does not read.
pub fn require_readable(backend: &mut dyn crate::Backend, actor: &Actor, contract: &str, what: &str) -> Result<()> {
    if actor.is_operator() || readable_contracts(backend, actor)?.iter().any(|c| c == contract) {
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
        Ok(Own {
            actor_is_operator: actor.is_operator(),
            role: actor.role(),
            party: actor.party().map(str::to_string),
            contracts: own.iter().map(|c| c.id.clone()).collect(),
            hosts,
        })
    }

    /// The hosts whose events the actor follows in the audit log: a host itself, an
    /// auditor the hosts of its contracts.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Whether the actor reads the full audit entry about `object` (every party
    /// reads the chain of all of them).
    pub fn sees_entry(&self, object: &str) -> bool {
        if self.actor_is_operator {
            return true;
        }
        let (kind, rest) = object.split_once(':').unwrap_or((object, ""));
        let contract_of = |rest: &str| rest.split([':', '/']).next().unwrap_or("").to_string();
        let host_of = |rest: &str| rest.split(':').next().unwrap_or("").to_string();
        match kind {
            "key" => true,
            "fx" | "registry" => Permission::ReadTables.allows(self.role),
            "contract" | "statement" | "contribution" => {
                self.role != Role::Beneficiary && self.contracts.contains(&contract_of(rest))
            }
            "events" | "void" => self.hosts.contains(&host_of(rest)),
            "party" => self.party.as_deref() == Some(rest),
            "witness_key" => self.party.as_deref() == Some(host_of(rest).as_str()),
            // About the log itself (a rollback accepted): every party's witness says so.
            "log" => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_table_of_actions() {
        use Permission::*;
        let table: [(Permission, [bool; 5]); 12] = [
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
        ];
        for (action, allowed) in table {
            for (role, expected) in Role::ALL.into_iter().zip(allowed) {
                assert_eq!(action.allows(role), expected, "{action:?} by {role:?}");
            }
        }
    }
}
