//! The record reader never panics on arbitrary bytes, and on a JSON array it cuts out
//! exactly the array's elements, in order, each record parsing to its element.

#![no_main]

use libfuzzer_sys::fuzz_target;
use revshare_ingest::reader::{RecordReader, CHUNK_BYTES, RECORD_BYTES_MAX};
use serde_json::Value;

fuzz_target!(|input: &[u8]| {
    let mut reader = RecordReader::new(input);
    let mut records: Vec<Vec<u8>> = Vec::new();
    let mut refused = false;
    loop {
        match reader.next_chunk() {
            Ok(Some(chunk)) => {
                records.extend(chunk.records.iter().map(|r| chunk.record_bytes(r).to_vec()));
                refused |= !chunk.broken.is_empty();
                reader.recycle(chunk);
            }
            Ok(None) => break,
            Err(_) => {
                refused = true;
                break;
            }
        }
    }
    let Ok(Value::Array(elements)) = serde_json::from_slice::<Value>(input) else {
        return;
    };
    if input.len() >= CHUNK_BYTES || records.iter().any(|r| r.len() >= RECORD_BYTES_MAX) {
        return;
    }
    assert!(!refused, "a well-formed array was refused");
    assert_eq!(records.len(), elements.len(), "one record per element");
    for (bytes, element) in records.iter().zip(&elements) {
        let parsed: Value = serde_json::from_slice(bytes).expect("a record is one JSON value");
        assert_eq!(&parsed, element);
    }
});
