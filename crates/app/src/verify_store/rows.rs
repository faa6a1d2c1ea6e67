//! Check 5: every stored row of an audited object against the payload of the
//! latest entry about it, rows without entries and entries without rows, the
//! idempotency keys against the events, and what is stored beside the events and
//! derived from them (a segment's count, PostgreSQL's batch rows), and the MAU
//! monitor's flags, which no row stands for, derived again.

use std::collections::{BTreeMap, HashMap, HashSet};

use revshare_core::audit::{Action, Entry, Seq};
use revshare_store::backend::{BatchRow, EventView, Recomputed, StoredSegment};
use revshare_store::StoreError;
use sha2::{Digest, Sha256};

use super::Report;
use crate::rows::{fx_payload, object, payload, BatchHasher};
use crate::{AppError, Backend, Result};

/// Check 5.
pub(super) fn check(backend: &mut dyn Backend, entries: &[Entry], report: &mut Report) -> Result<()> {
    let mut covered = Covered::new(entries);
    check_table_rows(backend, &mut covered, report)?;
    let batches = check_event_rows(backend, &mut covered, report)?;
    check_batch_rows(backend, &batches, report)?;
    check_mau_flags(backend, entries, &mut covered, report)?;
    check_copies(backend, entries, &mut covered, report)?;
    for entry in entries {
        if !covered.seen.contains(&entry.seq) {
            report.fail(
                5,
                format!("audit:{}", entry.seq),
                format!(
                    "entry {} ({} {}) names a row that is gone",
                    entry.seq,
                    entry.action.as_str(),
                    entry.object
                ),
            );
        }
    }
    Ok(())
}

/// The entries by seq, and which of them a stored row answers to.
struct Covered<'e> {
    by_seq: HashMap<Seq, &'e Entry>,
    latest: HashMap<&'e str, Seq>,
    seen: HashSet<Seq>,
}

impl<'e> Covered<'e> {
    fn new(entries: &'e [Entry]) -> Covered<'e> {
        let mut latest = HashMap::new();
        for entry in entries {
            latest.insert(entry.object.as_str(), entry.seq);
        }
        Covered {
            by_seq: entries.iter().map(|e| (e.seq, e)).collect(),
            latest,
            seen: HashSet::new(),
        }
    }

    /// Checks a row: the entry at its seq names it, is the latest about it, and
    /// holds the hash of its columns.
    fn row(&mut self, report: &mut Report, object: String, seq: Seq, payload_sha256: [u8; 32]) {
        self.check(report, object, seq, payload_sha256, true);
    }

    /// Checks a group of rows stored by one entry (FX rates, a batch of events, a
    /// rollback): entries about the same object name each stand for their own group.
    fn group(&mut self, report: &mut Report, object: String, seq: Seq, payload_sha256: [u8; 32]) {
        self.check(report, object, seq, payload_sha256, false);
    }

    fn check(&mut self, report: &mut Report, object: String, seq: Seq, payload_sha256: [u8; 32], latest: bool) {
        let Some(entry) = self.by_seq.get(&seq) else {
            report.fail(
                5,
                object,
                format!("the row claims entry {seq}, which does not exist (a row without an entry)"),
            );
            return;
        };
        self.seen.insert(entry.seq);
        if entry.object != object {
            report.fail(
                5,
                object,
                format!("the row claims entry {seq}, which is about {}", entry.object),
            );
        } else if latest && self.latest.get(entry.object.as_str()) != Some(&entry.seq) {
            report.fail(
                5,
                object,
                format!("the row is older than the latest entry about it (it claims {seq})"),
            );
        } else if entry.payload_sha256 != hex::encode(payload_sha256) {
            report.fail(
                5,
                object,
                format!("the stored row does not match entry {seq}'s payload: it was edited"),
            );
        }
    }

    /// Marks the entries about an object as answered to by its row (the older ones
    /// of a row that changed).
    fn older(&mut self, object: &str) {
        let seqs: Vec<Seq> = self
            .by_seq
            .values()
            .filter(|e| e.object == object)
            .map(|e| e.seq)
            .collect();
        self.seen.extend(seqs);
    }
}

/// Every table of audited rows but the events. A table whose rows do not decode is
/// named as the row that fails, and the others are still checked.
fn check_table_rows(backend: &mut dyn Backend, covered: &mut Covered<'_>, report: &mut Report) -> Result<()> {
    for row in backend.signing_keys()? {
        covered.row(report, object::key(&row.key_id), row.seq, payload(&row));
    }
    for row in backend.parties()? {
        // A renamed party's row answers to its latest entry (`party_updated`).
        let name = object::party(&row.id);
        covered.older(&name);
        covered.row(report, name, row.seq, payload(&row));
    }
    for row in report
        .tolerate(5, backend.tokens().map_err(Into::into))?
        .unwrap_or_default()
    {
        let name = object::token(&row.token_id);
        covered.older(&name);
        covered.row(report, name, row.seq, payload(&row));
    }
    for row in backend.contracts()? {
        covered.row(report, object::contract(&row.id, row.version), row.seq, payload(&row));
    }
    let mut fx: BTreeMap<Seq, Vec<revshare_store::backend::FxRow>> = BTreeMap::new();
    for row in backend.fx()? {
        fx.entry(row.seq).or_default().push(row);
    }
    for (seq, rows) in fx {
        covered.group(report, object::FX.to_string(), seq, fx_payload(&rows));
    }
    for row in report
        .tolerate(5, backend.registries().map_err(Into::into))?
        .unwrap_or_default()
    {
        covered.row(report, object::registry(row.version), row.seq, payload(&row));
    }
    for row in report
        .tolerate(5, backend.contributions().map_err(Into::into))?
        .unwrap_or_default()
    {
        let name = object::contribution(&row.contract, row.number);
        covered.older(&name);
        covered.row(report, name, row.seq, payload(&row));
    }
    for row in report
        .tolerate(5, backend.payments().map_err(Into::into))?
        .unwrap_or_default()
    {
        let name = object::payment(&row.payment_id);
        covered.older(&name);
        covered.row(report, name, row.seq, payload(&row));
    }
    for row in report
        .tolerate(
            5,
            revshare_store::backend::Disputes::disputes(backend).map_err(Into::into),
        )?
        .unwrap_or_default()
    {
        let name = object::dispute(&row.dispute_id);
        covered.older(&name);
        covered.row(report, name, row.seq, payload(&row));
    }
    for row in backend.voids()? {
        covered.row(report, object::void(&row.host, row.number), row.seq, payload(&row));
    }
    for row in report
        .tolerate(5, backend.statements().map_err(Into::into))?
        .into_iter()
        .flatten()
    {
        covered.row(report, object::statement(&row.statement_id), row.seq, payload(&row));
    }
    for row in backend.closed_after_term()? {
        covered.row(
            report,
            object::closed_after_term(&row.statement_id),
            row.seq,
            payload(&row),
        );
    }
    for row in backend.witness_keys()? {
        covered.row(
            report,
            object::witness_key(&row.party, row.number),
            row.seq,
            payload(&row),
        );
    }
    for row in backend.rollbacks()? {
        covered.group(report, object::LOG.to_string(), row.seq, payload(&row));
    }
    Ok(())
}

/// The MAU monitor's flags, which no row stands for: each entry's payload derived
/// again from the contracts, events and voids stored before it (its host's unique
/// customers in its month reach the contract's threshold), and one flag per
/// contract and month.
fn check_mau_flags(
    backend: &mut dyn Backend,
    entries: &[Entry],
    covered: &mut Covered<'_>,
    report: &mut Report,
) -> Result<()> {
    let flags: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.action == Action::MauThresholdReached)
        .collect();
    if flags.is_empty() {
        return Ok(());
    }
    let contract_rows = backend.contracts()?;
    let voids = backend.voids()?;
    let mut flagged: HashSet<&str> = HashSet::new();
    for entry in flags {
        // No row stands for a flag: the entry answers to what is derived here.
        covered.seen.insert(entry.seq);
        // Named by its object, so that an auditor is told of its own contracts' flags only.
        let name = entry.object.clone();
        if !flagged.insert(entry.object.as_str()) {
            let message = format!(
                "entry {} flags it again: a contract is flagged once per month",
                entry.seq
            );
            report.fail(5, name, message);
            continue;
        }
        let before: Vec<_> = contract_rows.iter().filter(|r| r.seq < entry.seq).cloned().collect();
        let derived = crate::snapshot::contract_set(&before)
            .and_then(|contracts| crate::mau::derive_flag(backend, &voids, &contracts, &entry.object, entry.seq));
        let reached = match derived {
            Ok(Ok(reached)) => reached,
            Ok(Err(message)) | Err(AppError::Integrity(message)) => {
                report.fail(5, name, format!("entry {}: {message}", entry.seq));
                continue;
            }
            Err(AppError::Store(StoreError::Corrupt { object, message })) => {
                report.fail(5, object, message);
                continue;
            }
            Err(error) => return Err(error),
        };
        if entry.payload_sha256 != hex::encode(payload(&reached)) {
            report.fail(
                5,
                name,
                format!(
                    "entry {}'s payload is not the flag derived from what was stored before it: {} had {} unique \
                     customers in {} (threshold {})",
                    entry.seq, reached.host, reached.customers, reached.month, reached.threshold
                ),
            );
        }
    }
    Ok(())
}

/// The events of one batch (one seq), owned for sorting.
#[derive(Default)]
struct Group {
    seq: Seq,
    host: String,
    hosts: usize,
    rows: Vec<(Vec<u8>, Vec<u8>, [u8; 32])>,
}

/// What the segments of one batch hold: its host, days and events (to check what
/// PostgreSQL stores beside them).
#[derive(Clone, Debug, Default)]
struct Held {
    host: String,
    first_day: i32,
    last_day: i32,
    count: i64,
}

/// The events, batch by batch, against their entries; each segment's stored count
/// against its events; the idempotency keys against the events. Returns what each
/// batch's segments hold, by seq.
fn check_event_rows(
    backend: &mut dyn Backend,
    covered: &mut Covered<'_>,
    report: &mut Report,
) -> Result<HashMap<Seq, Held>> {
    let mut group = Group::default();
    let mut held: HashMap<Seq, Held> = HashMap::new();
    // Each event's key digest, with the batch that holds it (as a key row names it).
    let mut event_digests: Vec<([u8; 32], i64)> = Vec::new();
    let mut failures: Vec<(String, String)> = Vec::new();
    let mut visit = |segment: &StoredSegment<'_>| -> revshare_store::backend::Result<()> {
        if segment.seq != group.seq && !group.rows.is_empty() {
            finish_group(std::mem::take(&mut group), covered, report);
        }
        let mut decoded = 0i64;
        let mut rollup = Recomputed::default();
        let object = format!("segment:{}", segment.number);
        let events = segment.events(&mut |e: &EventView<'_>| {
            decoded += 1;
            add_event(&mut group, &mut event_digests, e, segment.batch);
            rollup.add(e, &object)
        });
        if let Err(revshare_store::StoreError::Corrupt { object, message }) = events {
            failures.push((object, message));
            return Ok(());
        }
        events?;
        if !segment.rollup_is(&rollup)? {
            failures.push((
                object,
                format!(
                    "its rollup is missing or is not the sums of its events (of {} on day {}, entry {})",
                    segment.host, segment.day, segment.seq
                ),
            ));
        }
        if decoded != segment.count {
            failures.push((
                format!("segment:{}", segment.number),
                format!(
                    "its stored count is {} but it holds {decoded} events (of {} on day {}, entry {})",
                    segment.count, segment.host, segment.day, segment.seq
                ),
            ));
        }
        let batch = held.entry(segment.seq).or_insert_with(|| Held {
            host: segment.host.to_string(),
            first_day: segment.day,
            last_day: segment.day,
            count: 0,
        });
        batch.first_day = batch.first_day.min(segment.day);
        batch.last_day = batch.last_day.max(segment.day);
        batch.count += decoded;
        Ok(())
    };
    backend.scan_all_segments(&mut visit)?;
    if !group.rows.is_empty() {
        finish_group(group, covered, report);
    }
    for (object, message) in failures {
        report.fail(5, object, message);
    }
    report.events = event_digests.len() as u64;
    let mut key_digests: Vec<([u8; 32], Option<i64>)> = Vec::with_capacity(event_digests.len());
    let keys = backend.scan_keys(&mut |k| {
        key_digests.push((key_digest(&k.source, &k.id, &k.leaf, &k.host, k.day), k.batch));
        Ok(())
    });
    report.tolerate(5, keys.map_err(Into::into))?;
    event_digests.sort_unstable();
    key_digests.sort_unstable();
    let misplaced = misplaced_keys(&event_digests, &key_digests);
    let digests_differ = !event_digests.iter().map(|e| e.0).eq(key_digests.iter().map(|k| k.0));
    if digests_differ {
        let events: Vec<[u8; 32]> = event_digests.into_iter().map(|e| e.0).collect();
        let keys: Vec<[u8; 32]> = key_digests.into_iter().map(|k| k.0).collect();
        name_key_differences(backend, &events, &keys, report)?;
    }
    if !misplaced.is_empty() {
        name_misplaced_keys(backend, &misplaced, report)?;
    }
    Ok(held)
}

/// The keys (by digest) that match their event but name a batch that does not hold
/// it (a key without a batch, stored before keys named theirs, names none): both
/// lists sorted by digest.
fn misplaced_keys(events: &[([u8; 32], i64)], keys: &[([u8; 32], Option<i64>)]) -> HashMap<[u8; 32], i64> {
    let mut misplaced = HashMap::new();
    let mut e = 0;
    for (digest, batch) in keys {
        while e < events.len() && events[e].0 < *digest {
            e += 1;
        }
        if let Some(batch) = batch {
            if e < events.len() && events[e].0 == *digest && events[e].1 != *batch {
                misplaced.insert(*digest, *batch);
            }
        }
    }
    misplaced
}

/// Names the events whose key row names a batch that does not hold them.
fn name_misplaced_keys(
    backend: &mut dyn Backend,
    misplaced: &HashMap<[u8; 32], i64>,
    report: &mut Report,
) -> Result<()> {
    let mut named = Vec::new();
    let keys = backend.scan_keys(&mut |k| {
        if let Some(batch) = misplaced.get(&key_digest(&k.source, &k.id, &k.leaf, &k.host, k.day)) {
            named.push((
                format!("event:{}/{}", k.source, k.id),
                format!("its idempotency key row names batch {batch}, which does not hold it"),
            ));
        }
        Ok(())
    });
    report.tolerate(5, keys.map_err(Into::into))?;
    for (object, message) in named {
        report.fail(5, object, message);
    }
    Ok(())
}

fn add_event(group: &mut Group, event_digests: &mut Vec<([u8; 32], i64)>, e: &EventView<'_>, batch: i64) {
    if group.rows.is_empty() {
        group.seq = e.seq;
        group.host = e.host.to_string();
        group.hosts = 1;
    } else if group.host != e.host {
        group.hosts += 1;
    }
    let mut jcs = Vec::with_capacity(400);
    crate::rows::write_event_row(e, &mut jcs);
    let mut key = e.source.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(e.id.as_bytes());
    let leaf: [u8; 32] = e.leaf.try_into().unwrap_or([0; 32]);
    event_digests.push((key_digest(e.source, e.id, e.leaf, e.host, e.day), batch));
    group.rows.push((key, jcs, leaf));
}

fn finish_group(mut group: Group, covered: &mut Covered<'_>, report: &mut Report) {
    group.rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hasher = BatchHasher::default();
    for (_, jcs, leaf) in &group.rows {
        hasher.add(leaf, jcs);
    }
    let name = object::events(&group.host);
    if group.hosts > 1 {
        report.fail(
            5,
            name.clone(),
            format!("the events stored at entry {} belong to more than one host", group.seq),
        );
    }
    covered.group(report, name, group.seq, hasher.finish());
}

/// PostgreSQL's batch rows against what their segments hold (none where segments
/// carry their seq): one row per batch, its host, day range and count derived.
fn check_batch_rows(backend: &mut dyn Backend, held: &HashMap<Seq, Held>, report: &mut Report) -> Result<()> {
    for row in backend.batch_rows()? {
        let BatchRow {
            batch,
            seq,
            host,
            first_day,
            last_day,
            count,
        } = row;
        let name = format!("batch:{batch}");
        match held.get(&seq) {
            None => report.fail(5, name, format!("it gives entry {seq} to no stored events")),
            Some(h)
                if (h.host.as_str(), h.first_day, h.last_day, h.count)
                    != (host.as_str(), first_day, last_day, count) =>
            {
                report.fail(
                    5,
                    name,
                    format!(
                        "it says {host}, days {first_day}..{last_day}, {count} events, but its segments hold {}, \
                         days {}..{}, {} events",
                        h.host, h.first_day, h.last_day, h.count
                    ),
                )
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// One digest of an event's key row, the same from both tables.
fn key_digest(source: &str, id: &str, leaf: &[u8], host: &str, day: i32) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in [source.as_bytes(), id.as_bytes(), leaf, host.as_bytes()] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.update(day.to_le_bytes());
    hasher.finalize().into()
}

/// Names the events whose key row and event row disagree.
fn name_key_differences(
    backend: &mut dyn Backend,
    events: &[[u8; 32]],
    keys: &[[u8; 32]],
    report: &mut Report,
) -> Result<()> {
    let only_events: HashSet<&[u8; 32]> = events.iter().filter(|d| keys.binary_search(d).is_err()).collect();
    let only_keys: HashSet<&[u8; 32]> = keys.iter().filter(|d| events.binary_search(d).is_err()).collect();
    let mut named = Vec::new();
    backend.scan_all_segments(&mut |segment| {
        // A segment that does not decode was named above.
        let _ = segment.events(&mut |e| {
            if only_events.contains(&key_digest(e.source, e.id, e.leaf, e.host, e.day)) {
                named.push((
                    format!("event:{}/{}", e.source, e.id),
                    "its idempotency key row is missing or differs",
                ));
            }
            Ok(())
        });
        Ok(())
    })?;
    let keys = backend.scan_keys(&mut |k| {
        if only_keys.contains(&key_digest(&k.source, &k.id, &k.leaf, &k.host, k.day)) {
            named.push((
                format!("event:{}/{}", k.source, k.id),
                "its idempotency key row has no such stored event",
            ));
        }
        Ok(())
    });
    report.tolerate(5, keys.map_err(Into::into))?;
    for (object, message) in named {
        report.fail(5, object, message);
    }
    Ok(())
}

/// Each `store_copied` entry against its row (`meta` `copied:<seq>`): the row is
/// there, hashes to the entry's payload, and says the log had the entries before it.
fn check_copies(
    backend: &mut dyn Backend,
    entries: &[Entry],
    covered: &mut Covered<'_>,
    report: &mut Report,
) -> Result<()> {
    for (seq, stored) in crate::store_copy::copy_rows_of(backend, entries)? {
        covered.seen.insert(seq);
        let name = format!("meta:{}", crate::store_copy::copied_key(seq));
        let Some(text) = stored else {
            report.fail(5, name, format!("entry {seq} (store_copied) names a row that is gone"));
            continue;
        };
        let row: revshare_core::records::StoreCopyRow = match serde_json::from_str(&text) {
            Ok(row) => row,
            Err(error) => {
                report.fail(5, name, format!("the row does not parse: {error}"));
                continue;
            }
        };
        let entry = covered.by_seq[&seq];
        if entry.object != object::LOG {
            report.fail(5, name, format!("entry {seq} is about {}, not the log", entry.object));
        } else if entry.payload_sha256 != hex::encode(payload(&row)) {
            report.fail(
                5,
                name,
                format!("the stored row does not match entry {seq}'s payload: it was edited"),
            );
        } else if u64::try_from(row.size).ok() != Some(seq.get() - 1) {
            report.fail(
                5,
                name,
                format!("the row says the log had {} entries before entry {seq}", row.size),
            );
        }
    }
    Ok(())
}
