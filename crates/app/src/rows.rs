//! What each audit entry covers: the object it names and the hash of the object's
//! stored state after the change (docs/audit.md lists them all). A row's payload is
//! SHA-256 of the JCS of its serialized columns, `seq` left out (the seq is the
//! entry's own). A batch of events is `{count, leaves_sha256, rows_sha256}` over its
//! events in `(source, id)` order.

use revshare_core::json::canonical_sha256;
use revshare_store::backend::{EventView, FxRow};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// SHA-256 of the JCS of a row's columns.
pub fn payload<T: Serialize>(row: &T) -> [u8; 32] {
    canonical_sha256(row)
}

/// The objects entries name, as their text ([`revshare_core::audit::Object`]).
pub mod object {
    use revshare_core::audit::Object;
    use revshare_core::statement::StatementId;

    pub fn key(key_id: &str) -> String {
        Object::Key(key_id.to_string()).to_string()
    }
    pub fn party(id: &str) -> String {
        Object::Party(id.to_string()).to_string()
    }
    pub fn token(token_id: &str) -> String {
        Object::Token(token_id.to_string()).to_string()
    }
    pub fn contract(id: &str, version: i64) -> String {
        Object::Contract {
            id: id.to_string(),
            version,
        }
        .to_string()
    }
    /// [`Object::Fx`].
    pub const FX: &str = "fx";
    pub fn registry(version: i64) -> String {
        Object::Registry(version).to_string()
    }
    pub fn events(host: &str) -> String {
        Object::Events(host.to_string()).to_string()
    }
    pub fn void(host: &str, number: i64) -> String {
        Object::Void {
            host: host.to_string(),
            number,
        }
        .to_string()
    }
    pub fn statement(statement_id: &StatementId) -> String {
        Object::Statement(statement_id.clone()).to_string()
    }
    pub fn closed_after_term(statement_id: &StatementId) -> String {
        Object::ClosedAfterTerm(statement_id.clone()).to_string()
    }
    pub fn contribution(contract: &str, number: i64) -> String {
        Object::Contribution {
            contract: contract.to_string(),
            number,
        }
        .to_string()
    }
    pub fn payment(payment_id: &str) -> String {
        Object::Payment(payment_id.to_string()).to_string()
    }
    pub fn dispute(dispute_id: &str) -> String {
        Object::Dispute(dispute_id.to_string()).to_string()
    }
    pub fn witness_key(party: &str, number: i64) -> String {
        Object::WitnessKey {
            party: party.to_string(),
            number,
        }
        .to_string()
    }
    pub fn mau(contract: &str, month: &str) -> String {
        Object::Mau {
            contract: contract.to_string(),
            month: month.to_string(),
        }
        .to_string()
    }
    /// [`Object::Log`]: the log itself (a rollback the operator accepted).
    pub const LOG: &str = "log";
}

/// The FX rows an entry added, in `(date, from, to)` order.
pub fn fx_payload(rows: &[FxRow]) -> [u8; 32] {
    let mut sorted: Vec<&FxRow> = rows.iter().collect();
    sorted.sort_by(|a, b| (a.date, &a.from, &a.to).cmp(&(b.date, &b.from, &b.to)));
    payload(&sorted)
}

/// Writes an event row's JCS: its stored columns, keys in code-point order, the leaf
/// and the customer pseudonym as lowercase hex (`null` without a customer). Every
/// import hashes every row it stores, so this writes into `out` without allocating.
pub(crate) fn write_event_row(e: &EventView<'_>, out: &mut Vec<u8>) {
    write_event_row_with(e, e.customer.map(Customer::Bytes), out);
}

/// An event's customer pseudonym: its 16 bytes, or already as 32 lowercase hex digits.
#[derive(Clone, Copy)]
pub(crate) enum Customer<'a> {
    Bytes(&'a [u8]),
    Hex(&'a str),
}

/// [`write_event_row`], the customer given apart from the row (`e.customer` unread).
pub(crate) fn write_event_row_with(e: &EventView<'_>, customer: Option<Customer<'_>>, out: &mut Vec<u8>) {
    use revshare_core::event::write_json_string as string;
    out.extend_from_slice(b"{\"currency\":");
    string(out, e.currency);
    out.extend_from_slice(b",\"customer\":");
    match customer {
        Some(Customer::Bytes(bytes)) => hex_string(out, bytes),
        Some(Customer::Hex(hex)) => string(out, hex),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"day\":");
    integer(out, i64::from(e.day));
    out.extend_from_slice(b",\"host\":");
    string(out, e.host);
    out.extend_from_slice(b",\"id\":");
    string(out, e.id);
    out.extend_from_slice(b",\"input_tokens\":");
    integer(out, e.input_tokens);
    out.extend_from_slice(b",\"leaf\":");
    hex_string(out, e.leaf);
    out.extend_from_slice(b",\"model\":");
    string(out, e.model);
    out.extend_from_slice(b",\"output_tokens\":");
    integer(out, e.output_tokens);
    out.extend_from_slice(b",\"requests\":");
    integer(out, e.requests);
    out.extend_from_slice(b",\"revenue_units\":");
    string(out, e.revenue_units);
    out.extend_from_slice(b",\"source\":");
    string(out, e.source);
    out.extend_from_slice(b",\"use_case\":");
    string(out, e.use_case);
    out.extend_from_slice(b",\"utc_seconds\":");
    integer(out, e.utc_seconds);
    out.push(b'}');
}

/// Bytes as a JSON string of lowercase hex digits.
fn hex_string(out: &mut Vec<u8>, bytes: &[u8]) {
    // Two digits a byte from one table, into room reserved once: every event row
    // of an import and of a close's check has a 32-byte leaf to write.
    const PAIRS: [[u8; 2]; 256] = {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut pairs = [[0u8; 2]; 256];
        let mut byte = 0;
        while byte < 256 {
            pairs[byte] = [HEX[byte >> 4], HEX[byte & 0xf]];
            byte += 1;
        }
        pairs
    };
    out.reserve(bytes.len() * 2 + 2);
    out.push(b'"');
    for byte in bytes {
        out.extend_from_slice(&PAIRS[*byte as usize]);
    }
    out.push(b'"');
}

/// An integer as JCS writes it (stored integers stay far below 2^53).
pub(crate) fn integer(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Hashes a batch of events, given in `(source, id)` order, into its payload.
#[derive(Default)]
pub struct BatchHasher {
    count: u64,
    leaves: Sha256,
    rows: Sha256,
}

impl BatchHasher {
    /// Adds one event: its leaf and its row's JCS.
    pub fn add(&mut self, leaf: &[u8], row_jcs: &[u8]) {
        self.add_run(1, leaf, row_jcs);
    }

    /// Adds `count` consecutive events: their leaves and their rows' JCS, each
    /// concatenated (one update hashes a long run faster than many short ones).
    pub(crate) fn add_run(&mut self, count: u64, leaves: &[u8], rows_jcs: &[u8]) {
        debug_assert_eq!(leaves.len() as u64, count * 32);
        self.count += count;
        self.leaves.update(leaves);
        self.rows.update(rows_jcs);
    }

    /// `SHA-256(JCS({count, leaves_sha256, rows_sha256}))`.
    pub fn finish(self) -> [u8; 32] {
        #[derive(Serialize)]
        struct Batch {
            count: u64,
            leaves_sha256: String,
            rows_sha256: String,
        }
        payload(&Batch {
            count: self.count,
            leaves_sha256: hex::encode(self.leaves.finalize()),
            rows_sha256: hex::encode(self.rows.finalize()),
        })
    }
}

/// The payload of a batch of events given in `(source, id)` order.
pub fn events_payload<'a>(events: impl Iterator<Item = EventView<'a>>) -> [u8; 32] {
    let mut hasher = BatchHasher::default();
    let mut buffer = Vec::with_capacity(512);
    for event in events {
        buffer.clear();
        write_event_row(&event, &mut buffer);
        hasher.add(event.leaf, &buffer);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use revshare_store::backend::EventRow;

    fn row(customer: Option<[u8; 16]>, source: &str) -> EventRow {
        EventRow {
            source: source.into(),
            id: "e\"1\u{1}é".into(),
            leaf: [0xab; 32],
            host: "acme-cloud".into(),
            model: "llama".into(),
            use_case: "chat".into(),
            currency: "USD".into(),
            customer,
            utc_seconds: -5,
            day: 20_700,
            requests: 1,
            input_tokens: 9_007_199_254_740_991,
            output_tokens: 0,
            revenue_units: "123456789012345678901234567890".into(),
        }
    }

    #[test]
    fn an_event_row_is_written_as_its_jcs() {
        for customer in [None, Some([7u8; 16]), Some([0xf0; 16])] {
            let r = row(customer, "acme-cloud/us\\x");
            let mut ours = Vec::new();
            write_event_row(&r.view(revshare_core::audit::Seq::new(3)), &mut ours);
            let value = serde_json::json!({
                "source": r.source, "id": r.id, "leaf": hex::encode(r.leaf), "host": r.host,
                "model": r.model, "use_case": r.use_case, "currency": r.currency,
                "customer": r.customer.map(hex::encode), "utc_seconds": r.utc_seconds, "day": r.day,
                "requests": r.requests, "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
                "revenue_units": r.revenue_units,
            });
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(serde_json_canonicalizer::to_vec(&value).unwrap()).unwrap()
            );
        }
    }
}
