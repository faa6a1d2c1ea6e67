//! Where an event is counted (statement, tree, leaf index; one place per contract
//! that selects it), or why it is not: voided, outside settlement, in an open
//! period, late and pending the next close, selected by no contract, or never
//! received. Places come from the leaves each statement was closed with; each says
//! how that statement accounted for the event (statements.md): rated into its line
//! (model and use case), or reported as an exception (its kind), as the close that
//! signed the statement rated it (its contract version and FX rates as of its
//! `audit_head`).

use revshare_core::audit::Seq;
use revshare_core::contract::ContractSet;
use revshare_core::period::{Day, Period};
use revshare_core::rating::{classify, version_for, ExceptionKind, StatementKey};
use revshare_core::statement::StatementId;
use revshare_core::tables::FxTable;
use revshare_core::verify::TreeName;
use revshare_store::backend::{EventView, KeyRow, StatementRow, VoidRow};
use serde::Serialize;

use crate::closed::VerifiedStatements;
use crate::snapshot::Snapshot;
use crate::trees::StoredTree;
use crate::{Actor, AppError, Backend, Result};
use revshare_core::verify::tree_names;

/// Where one event stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Located {
    pub source: String,
    pub id: String,
    /// Its host and UTC day, when it was received.
    pub host: Option<String>,
    pub day: Option<String>,
    pub places: Vec<Place>,
    /// Why it is not counted somewhere it could be (empty when counted everywhere).
    pub not_counted: Vec<NotCounted>,
    /// The contracts that select it (step 1), whoever may see them.
    #[serde(skip)]
    selected_by: Vec<String>,
}

/// A tree of a closed statement that holds the event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Place {
    pub contract: String,
    pub statement_id: String,
    /// `events`, `prior_period:<P>` (counted), or `voided:<P>` (removed).
    pub tree: String,
    pub leaf_index: u64,
    /// `false` for a `voided:` tree: the statement removed the event there. `true`
    /// says the statement accounts for it, not that anyone was paid on it: `line`
    /// or `exception` says how.
    pub counted: bool,
    /// The line the event was rated into (a counted place that is no exception).
    pub line: Option<LineRef>,
    /// The exception the event is reported as: counted, never rated or paid on.
    pub exception: Option<ExceptionRef>,
}

/// A statement line, as statements name lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineRef {
    pub model: String,
    pub use_case: String,
}

/// An entry of a statement's `exceptions`: its kind and the events' currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExceptionRef {
    pub kind: ExceptionKind,
    pub currency: String,
}

impl Place {
    /// What the place says in words: `rated into line M, U`, `exception K (C): counted,
    /// not paid on`, or `removed`.
    pub fn outcome(&self) -> String {
        match (&self.line, &self.exception) {
            (Some(line), _) => format!("rated into line {} / {}", line.model, line.use_case),
            (None, Some(e)) => format!(
                "reported as exception {} ({}): counted, never rated or paid on",
                e.kind.as_str(),
                e.currency
            ),
            (None, None) => "removed (voided)".to_string(),
        }
    }
}

/// Why an event is not counted (for one contract, or at all).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NotCounted {
    NeverReceived,
    Voided {
        by: String,
        at: String,
        why: String,
    },
    /// Dated before the contract's first closed period.
    OutsideSettlement {
        contract: String,
        period: String,
        settlement_start: String,
    },
    /// Its period is not closed yet for the contract.
    OpenPeriod {
        contract: String,
        period: String,
    },
    /// Its period was closed before it arrived: the contract's next close settles it.
    Late {
        contract: String,
        period: String,
    },
    SelectedByNoContract {
        why: String,
    },
}

impl std::fmt::Display for NotCounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotCounted::NeverReceived => write!(f, "it was never received"),
            NotCounted::Voided { by, at, why } => write!(f, "it was voided by {by} at {at} ({why})"),
            NotCounted::OutsideSettlement {
                contract,
                period,
                settlement_start,
            } => write!(
                f,
                "it is dated in {period}, before {contract}'s settlement start {settlement_start}: outside settlement"
            ),
            NotCounted::OpenPeriod { contract, period } => {
                write!(f, "{contract}/{period} is not closed yet: its close will count it")
            }
            NotCounted::Late { contract, period } => write!(
                f,
                "it arrived after {contract}/{period} closed: the next close of {contract} settles it in a \
                 prior_period:{period} tree"
            ),
            NotCounted::SelectedByNoContract { why } => write!(f, "no contract selects it: {why}"),
        }
    }
}

/// Locates event `(source, id)` as of now, as far as the actor may see: a host its
/// own events, a licensor or auditor the places in its own statements. A token
/// narrowed to contracts sees the places in those, and the reasons about those only.
pub fn locate(backend: &mut dyn Backend, actor: &Actor, source: &str, id: &str) -> Result<Located> {
    crate::access::require(actor, crate::access::Permission::Locate)?;
    let located = locate_all(backend, source, id)?;
    let scope = crate::access::locate_scope(actor, located.host.as_deref());
    if scope == crate::access::LocateScope::Everything {
        return Ok(located);
    }
    let own = crate::access::readable_contracts(backend, actor)?;
    let places: Vec<Place> = located
        .places
        .into_iter()
        .filter(|p| own.contains(&p.contract))
        .collect();
    let selects_own = located.selected_by.iter().any(|c| own.contains(c));
    if scope == crate::access::LocateScope::OwnStatements && !selects_own {
        if places.is_empty() {
            return Err(AppError::NotFound(format!(
                "event ({source}, {id}) is in none of your statements"
            )));
        }
        return Ok(Located {
            places,
            not_counted: Vec::new(),
            ..located
        });
    }
    // An event the actor's contracts select: the reasons about those, and its void.
    let mut not_counted: Vec<NotCounted> = located
        .not_counted
        .into_iter()
        .filter(|n| match n.contract() {
            Some(contract) => own.iter().any(|c| c == contract),
            None => matches!(n, NotCounted::Voided { .. }),
        })
        .collect();
    if places.is_empty() && not_counted.is_empty() {
        not_counted.push(NotCounted::SelectedByNoContract {
            why: "none of the contracts this token is narrowed to selects it".to_string(),
        });
    }
    Ok(Located {
        places,
        not_counted,
        ..located
    })
}

impl NotCounted {
    /// The contract a reason is about, if it is about one.
    fn contract(&self) -> Option<&str> {
        match self {
            NotCounted::OutsideSettlement { contract, .. }
            | NotCounted::OpenPeriod { contract, .. }
            | NotCounted::Late { contract, .. } => Some(contract),
            NotCounted::NeverReceived | NotCounted::Voided { .. } | NotCounted::SelectedByNoContract { .. } => None,
        }
    }
}

/// Locates event `(source, id)` as of now, for any caller.
pub(crate) fn locate_all(backend: &mut dyn Backend, source: &str, id: &str) -> Result<Located> {
    let mut located = Located {
        source: source.to_string(),
        id: id.to_string(),
        host: None,
        day: None,
        places: Vec::new(),
        not_counted: Vec::new(),
        selected_by: Vec::new(),
    };
    let Some(key) = backend.event_key(source, id)? else {
        located.not_counted.push(NotCounted::NeverReceived);
        return Ok(located);
    };
    located.host = Some(key.host.clone());
    located.day = Some(Day(key.day).to_string());
    let facts = stored_facts(backend, &key)?;
    let model = facts.model.clone();
    let head = backend.audit_head()?;
    let snapshot = Snapshot::load(backend, head.seq)?;
    let void = backend.void_of(source, id)?.filter(|v| v.seq <= snapshot.seq);
    if let Some(void) = &void {
        located.not_counted.push(voided(void));
    }
    let mut verified = VerifiedStatements::new(crate::keys::public_keys(backend)?);
    let mut as_of = AsOfClose::default();
    let mut selected = false;
    for versions in &snapshot.contracts.contracts {
        let registry_on = |start| snapshot.model_registry_on(start);
        let Some(period) = revshare_core::rating::selects(versions, registry_on, &key.host, &model, Day(key.day))
        else {
            continue;
        };
        selected = true;
        located.selected_by.push(versions.id.clone());
        let mut places = places_in(backend, &snapshot, &mut verified, &versions.id, period, &key)?;
        for place in places.iter_mut().filter(|p| p.counted) {
            as_of.rate(&snapshot, place, period, &facts, Day(key.day))?;
        }
        let counted = places.iter().any(|p| p.counted);
        located.places.extend(places);
        if !counted && void.is_none() {
            located.not_counted.push(why_not(&snapshot, &versions.id, period));
        }
    }
    if !selected {
        located.not_counted.push(NotCounted::SelectedByNoContract {
            why: no_contract(&snapshot, &key, &model),
        });
    }
    Ok(located)
}

/// The voids (by number) of events that one of `contracts` selects.
pub(crate) fn voids_selected_by(backend: &mut dyn Backend, contracts: &[String]) -> Result<Vec<i64>> {
    let voids = backend.voids()?;
    if voids.is_empty() || contracts.is_empty() {
        return Ok(Vec::new());
    }
    let head = backend.audit_head()?;
    let snapshot = Snapshot::load(backend, head.seq)?;
    let mut numbers = Vec::new();
    for void in voids {
        // Its key names its segment; without one, the void's host and day do.
        let key = match backend.event_key(&void.source, &void.id)? {
            Some(key) => key,
            None => KeyRow {
                source: void.source.clone(),
                id: void.id.clone(),
                leaf: [0; 32],
                host: void.host.clone(),
                day: void.day,
                batch: None,
            },
        };
        let model = stored_facts(backend, &key)?.model;
        let selects = snapshot
            .contracts
            .contracts
            .iter()
            .filter(|versions| contracts.contains(&versions.id))
            .any(|versions| {
                let registry_on = |start| snapshot.model_registry_on(start);
                revshare_core::rating::selects(versions, registry_on, &void.host, &model, Day(void.day)).is_some()
            });
        if selects {
            numbers.push(void.number);
        }
    }
    Ok(numbers)
}

fn voided(void: &VoidRow) -> NotCounted {
    NotCounted::Voided {
        by: void.actor.clone(),
        at: void.voided_at.clone(),
        why: void.reason.clone(),
    }
}

/// What rating reads of a stored event besides its day.
struct Facts {
    model: String,
    use_case: String,
    currency: String,
}

/// The stored event's model, use case and currency (its key says where to look:
/// host and day).
/// Read from the one segment its key names (its host's day for a key stored
/// without one).
fn stored_facts(backend: &mut dyn Backend, key: &KeyRow) -> Result<Facts> {
    let mut facts = None;
    let mut visit = |e: &EventView<'_>| -> revshare_store::backend::Result<()> {
        facts = Some(Facts {
            model: e.model.to_string(),
            use_case: e.use_case.to_string(),
            currency: e.currency.to_string(),
        });
        Ok(())
    };
    backend.key_event(key, &mut visit)?;
    facts.ok_or_else(|| {
        AppError::Integrity(format!(
            "event ({}, {}) has an idempotency key but no stored event",
            key.source, key.id
        ))
    })
}

/// The trees of `contract`'s statements that hold the event: its period's own, and
/// the prior-period and voided trees of later statements.
fn places_in(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    verified: &mut VerifiedStatements,
    contract: &str,
    period: Period,
    key: &KeyRow,
) -> Result<Vec<Place>> {
    let own = StatementId::new(contract, period);
    let rows: Vec<&StatementRow> = snapshot
        .statements_of(contract)
        .filter(|s| s.start_day >= period.start().0)
        .collect();
    let mut places = Vec::new();
    for row in rows {
        let statement = verified.get(backend, row)?.statement().clone();
        for tree in tree_names(&statement) {
            let relevant = match &tree {
                TreeName::Events => own.as_ref().is_some_and(|own| row.statement_id == *own),
                TreeName::PriorPeriod(p) | TreeName::Voided(p) => *p == period.to_string(),
            };
            if !relevant {
                continue;
            }
            let Some((size, _)) = revshare_core::verify::signed_tree(&statement, &tree) else {
                continue;
            };
            // The tree's leaf index says where the leaf is, and its leaf is read to match.
            let mut stored = StoredTree::new(backend, &row.statement_id, &tree.to_string(), size);
            if let Some(index) = stored.find(&key.leaf)? {
                places.push(Place {
                    contract: contract.to_string(),
                    statement_id: row.statement_id.to_string(),
                    tree: tree.to_string(),
                    leaf_index: index,
                    counted: !tree.removes(),
                    line: None,
                    exception: None,
                });
            }
        }
    }
    Ok(places)
}

/// The contract versions and FX rates as of each close that signed a statement
/// holding the event (a few at most), derived once each.
#[derive(Default)]
struct AsOfClose {
    terms: Vec<(Seq, ContractSet, FxTable)>,
}

impl AsOfClose {
    /// Says how the statement at `place` rated the event (of `period`, for the
    /// place's contract): as its close did, with the contract version and the FX
    /// rates stored at or before its `audit_head`, the same step 2 a close runs.
    fn rate(&mut self, now: &Snapshot, place: &mut Place, period: Period, facts: &Facts, day: Day) -> Result<()> {
        let row = now
            .statements
            .iter()
            .find(|s| s.statement_id == place.statement_id)
            .ok_or_else(|| AppError::Integrity(format!("statement {} is gone", place.statement_id)))?;
        let seq = row.close_seq;
        let found = match self.terms.iter().position(|(s, ..)| *s == seq) {
            Some(found) => found,
            None => {
                let (contracts, fx) = now.terms_as_of(seq)?;
                self.terms.push((seq, contracts, fx));
                self.terms.len() - 1
            }
        };
        let (_, contracts, fx) = &self.terms[found];
        let gone = || AppError::Integrity(format!("{}: its contract version is gone", place.statement_id));
        let index = contracts
            .contracts
            .iter()
            .position(|c| c.id == place.contract)
            .ok_or_else(gone)?;
        let key = StatementKey {
            contract: index as u32,
            period,
        };
        let version = version_for(contracts, &key).ok_or_else(gone)?;
        match classify(version, fx, &facts.model, &facts.use_case, &facts.currency, day) {
            Ok(_) => {
                place.line = Some(LineRef {
                    model: facts.model.clone(),
                    use_case: facts.use_case.clone(),
                });
            }
            Err(kind) => {
                place.exception = Some(ExceptionRef {
                    kind,
                    currency: facts.currency.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Why a selected, not voided event is not counted for `contract`.
fn why_not(snapshot: &Snapshot, contract: &str, period: Period) -> NotCounted {
    let closed: Vec<Period> = snapshot
        .statements_of(contract)
        .filter_map(|s| Period::parse(&s.period))
        .filter(|p| p.cadence == period.cadence)
        .collect();
    let (contract, name) = (contract.to_string(), period.to_string());
    match closed.first() {
        Some(first) if period < *first => NotCounted::OutsideSettlement {
            contract,
            period: name,
            settlement_start: first.to_string(),
        },
        _ if closed.contains(&period) => NotCounted::Late { contract, period: name },
        _ => NotCounted::OpenPeriod { contract, period: name },
    }
}

/// Why no contract selects an event of `key.host` with `model`.
fn no_contract(snapshot: &Snapshot, key: &KeyRow, model: &str) -> String {
    let of_host: Vec<_> = snapshot
        .contracts
        .contracts
        .iter()
        .filter(|c| c.host() == key.host)
        .collect();
    if of_host.is_empty() {
        return format!("no contract has host {}", key.host);
    }
    let day = Day(key.day);
    let in_term: Vec<_> = of_host.iter().filter(|c| c.version_on(day).is_some()).collect();
    if in_term.is_empty() {
        let ids: Vec<&str> = of_host.iter().map(|c| c.id.as_str()).collect();
        return format!("{day} is outside the term of {} (host {})", ids.join(", "), key.host);
    }
    let owner = snapshot
        .model_registry_on(Period::parse(&day.to_string()[..7]).map_or(day, |p| p.start()))
        .and_then(|r| r.owner(model));
    match owner {
        Some(owner) => format!(
            "the model registry gives {model} to {owner}, and no contract of host {} has that licensor",
            key.host
        ),
        None => format!("no row of the model registry matches {model}, so it belongs to no licensor"),
    }
}
