//! Splits a usage file into records without loading it whole: NDJSON (one event per
//! line) or one JSON array of events. Records come in chunks of bounded size, each
//! record with its 1-based line number and 0-based position in the batch.

use std::io::Read;

/// A chunk holds at least this many bytes of complete records (unless the file ends).
pub const CHUNK_BYTES: usize = 4 << 20;
/// One record may not exceed this; a longer one is reported and skipped.
pub const RECORD_BYTES_MAX: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub start: usize,
    pub end: usize,
    /// 1-based line of the record's first byte.
    pub line: u64,
    /// 0-based position in the batch (the spec's `index`).
    pub index: u64,
}

/// Complete records and the bytes they live in.
#[derive(Debug, Default)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub records: Vec<Record>,
    /// Records that could not be cut out (too long, or broken array syntax).
    pub broken: Vec<(Record, String)>,
}

impl Chunk {
    pub fn record_bytes(&self, record: &Record) -> &[u8] {
        &self.bytes[record.start..record.end]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {message}")]
    Syntax { line: u64, message: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Unknown,
    Lines,
    Array,
}

/// Streams records out of a reader.
pub struct RecordReader<R: Read> {
    source: R,
    format: Format,
    /// Bytes read but not yet handed out, starting at a record boundary.
    pending: Vec<u8>,
    /// Where scanning resumes in `pending`.
    scanned: usize,
    line: u64,
    /// Line number at `pending[0]`.
    pending_line: u64,
    index: u64,
    eof: bool,
    array: ArrayScan,
    done: bool,
    /// A buffer handed back by the caller, reused for the next chunk: fresh large
    /// allocations cost page faults on every chunk.
    spare: Vec<u8>,
}

#[derive(Clone, Copy, Debug, Default)]
struct ArrayScan {
    opened: bool,
    closed: bool,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Start of the current element in `pending`, if one has begun.
    element_start: Option<usize>,
    element_line: u64,
    /// Whether a value is expected (after `[` or `,`).
    expecting: bool,
}

impl<R: Read> RecordReader<R> {
    pub fn new(source: R) -> RecordReader<R> {
        RecordReader {
            source,
            format: Format::Unknown,
            pending: Vec::new(),
            scanned: 0,
            line: 1,
            pending_line: 1,
            index: 0,
            eof: false,
            array: ArrayScan::default(),
            done: false,
            spare: Vec::new(),
        }
    }

    fn fill(&mut self) -> Result<(), ReadError> {
        // `read_to_end` appends without zeroing the buffer first; fewer bytes than
        // asked for means the input ended.
        let read = (&mut self.source)
            .take(CHUNK_BYTES as u64)
            .read_to_end(&mut self.pending)?;
        if read < CHUNK_BYTES {
            self.eof = true;
        }
        if self.format == Format::Unknown {
            match self.pending.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'[') => self.format = Format::Array,
                Some(_) => self.format = Format::Lines,
                None if self.eof => self.format = Format::Lines,
                None => {}
            }
        }
        Ok(())
    }

    /// Hands a finished chunk's buffer back for reuse.
    pub fn recycle(&mut self, chunk: Chunk) {
        if chunk.bytes.capacity() > self.spare.capacity() {
            self.spare = chunk.bytes;
        }
    }

    /// The next chunk of complete records, or `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, ReadError> {
        if self.done {
            return Ok(None);
        }
        loop {
            if !self.eof && self.pending.len() < CHUNK_BYTES {
                self.fill()?;
            }
            let chunk = match self.format {
                Format::Lines | Format::Unknown => self.cut_lines(),
                Format::Array => self.cut_array()?,
            };
            if let Some(chunk) = chunk {
                if !chunk.records.is_empty() || !chunk.broken.is_empty() {
                    return Ok(Some(chunk));
                }
            }
            if self.eof && self.pending.is_empty() {
                self.done = true;
                if self.format == Format::Array && !self.array.closed {
                    return Err(ReadError::Syntax {
                        line: self.line,
                        message: "the JSON array is not closed with `]`".to_string(),
                    });
                }
                return Ok(None);
            }
            if self.eof && self.format == Format::Array && self.array.closed {
                self.pending.clear();
                continue;
            }
        }
    }

    /// Hands out every complete line in `pending` (all of it at the end of input).
    fn cut_lines(&mut self) -> Option<Chunk> {
        let cut = if self.eof {
            self.pending.len()
        } else {
            match memchr::memrchr(b'\n', &self.pending) {
                Some(position) => position + 1,
                None if self.pending.len() > RECORD_BYTES_MAX => {
                    // An overlong line: report it and drop bytes until its end.
                    return Some(self.skip_long_line());
                }
                None => return None,
            }
        };
        let bytes = take_front(&mut self.pending, cut, &mut self.spare);
        let mut chunk = Chunk {
            bytes,
            ..Chunk::default()
        };
        let mut start = 0;
        let mut line = self.pending_line;
        for end in memchr::memchr_iter(b'\n', &chunk.bytes).chain(std::iter::once(chunk.bytes.len())) {
            if start > chunk.bytes.len() || (end == chunk.bytes.len() && start == end) {
                break;
            }
            let text_end = if end > start && chunk.bytes[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            if chunk.bytes[start..text_end].iter().any(|b| !b.is_ascii_whitespace()) {
                let record = Record {
                    start,
                    end: text_end,
                    line,
                    index: self.index,
                };
                self.index += 1;
                if text_end - start > RECORD_BYTES_MAX {
                    chunk
                        .broken
                        .push((record, format!("the event is longer than {RECORD_BYTES_MAX} bytes")));
                } else {
                    chunk.records.push(record);
                }
            }
            line += 1;
            start = end + 1;
        }
        self.pending_line = line;
        self.line = line;
        Some(chunk)
    }

    fn skip_long_line(&mut self) -> Chunk {
        let record = Record {
            start: 0,
            end: 0,
            line: self.pending_line,
            index: self.index,
        };
        self.index += 1;
        // Keep reading until the newline; the bytes are dropped.
        loop {
            if let Some(position) = memchr::memchr(b'\n', &self.pending) {
                self.pending.drain(..=position);
                break;
            }
            self.pending.clear();
            if self.eof {
                break;
            }
            if self.fill().is_err() {
                break;
            }
        }
        self.pending_line += 1;
        self.line = self.pending_line;
        Chunk {
            bytes: Vec::new(),
            records: Vec::new(),
            broken: vec![(record, format!("the event is longer than {RECORD_BYTES_MAX} bytes"))],
        }
    }

    /// Scans array syntax, handing out the complete elements found so far.
    fn cut_array(&mut self) -> Result<Option<Chunk>, ReadError> {
        let mut records = Vec::new();
        let mut position = self.scanned;
        let mut line = self.line;
        let mut last_end = 0; // bytes before this belong to handed-out records
        let bytes = &self.pending;
        let scan = &mut self.array;
        let syntax = |line: u64, message: &str| ReadError::Syntax {
            line,
            message: message.to_string(),
        };
        while position < bytes.len() {
            let b = bytes[position];
            if b == b'\n' {
                line += 1;
            }
            if scan.closed {
                if !b.is_ascii_whitespace() {
                    return Err(syntax(line, "unexpected data after the closing `]` of the array"));
                }
                position += 1;
                continue;
            }
            if !scan.opened {
                if b == b'[' {
                    scan.opened = true;
                    scan.expecting = true;
                } else if !b.is_ascii_whitespace() {
                    return Err(syntax(line, "expected `[`"));
                }
                position += 1;
                continue;
            }
            if scan.in_string {
                if scan.escaped {
                    scan.escaped = false;
                } else if b == b'\\' {
                    scan.escaped = true;
                } else if b == b'"' {
                    scan.in_string = false;
                }
                position += 1;
                continue;
            }
            match b {
                b'"' => {
                    scan.in_string = true;
                    if scan.element_start.is_none() {
                        scan.element_start = Some(position);
                        scan.element_line = line;
                    }
                }
                b'{' | b'[' => {
                    if scan.element_start.is_none() {
                        scan.element_start = Some(position);
                        scan.element_line = line;
                    }
                    scan.depth += 1;
                }
                b'}' | b']' if scan.depth > 0 => scan.depth -= 1,
                b',' | b']' if scan.depth == 0 => {
                    match scan.element_start.take() {
                        Some(start) => {
                            let mut end = position;
                            while end > start && bytes[end - 1].is_ascii_whitespace() {
                                end -= 1;
                            }
                            records.push(Record {
                                start,
                                end,
                                line: scan.element_line,
                                index: self.index,
                            });
                            self.index += 1;
                            last_end = position + 1;
                        }
                        None if b == b']' && scan.expecting && records.is_empty() && self.index == 0 => {}
                        None => return Err(syntax(line, "expected an event before `,` or `]`")),
                    }
                    scan.expecting = b == b',';
                    if b == b']' {
                        scan.closed = true;
                        last_end = position + 1;
                    }
                }
                _ if b.is_ascii_whitespace() => {}
                _ => {
                    if scan.element_start.is_none() {
                        scan.element_start = Some(position);
                        scan.element_line = line;
                    }
                }
            }
            position += 1;
            if !records.is_empty() && last_end >= CHUNK_BYTES {
                break;
            }
        }
        if scan
            .element_start
            .is_some_and(|start| position - start > RECORD_BYTES_MAX)
        {
            return Err(syntax(
                scan.element_line,
                &format!("an event is longer than {RECORD_BYTES_MAX} bytes"),
            ));
        }
        // Hand out the bytes up to `last_end`; keep the rest (a partial element).
        let bytes = take_front(&mut self.pending, last_end, &mut self.spare);
        self.scanned = position - last_end;
        if let Some(start) = self.array.element_start.as_mut() {
            *start -= last_end;
        }
        self.line = line;
        if self.eof && self.scanned == self.pending.len() && !self.array.closed && records.is_empty() {
            self.pending.clear();
        }
        Ok(Some(Chunk {
            bytes,
            records,
            broken: Vec::new(),
        }))
    }
}

/// Splits off the first `at` bytes, copying only the (short) rest into `spare`.
fn take_front(buffer: &mut Vec<u8>, at: usize, spare: &mut Vec<u8>) -> Vec<u8> {
    let mut rest = std::mem::take(spare);
    rest.clear();
    rest.reserve(CHUNK_BYTES + RECORD_BYTES_MAX);
    rest.extend_from_slice(&buffer[at..]);
    buffer.truncate(at);
    std::mem::replace(buffer, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &str) -> Result<Vec<(String, u64, u64)>, ReadError> {
        let mut reader = RecordReader::new(input.as_bytes());
        let mut out = Vec::new();
        while let Some(chunk) = reader.next_chunk()? {
            for record in &chunk.records {
                let text = String::from_utf8(chunk.record_bytes(record).to_vec()).unwrap();
                out.push((text, record.line, record.index));
            }
        }
        Ok(out)
    }

    #[test]
    fn ndjson_lines_skip_blanks_and_keep_line_numbers() {
        let got = records("{\"a\":1}\n\n  \r\n{\"b\":2}\r\n{\"c\":3}").unwrap();
        assert_eq!(
            got,
            vec![
                ("{\"a\":1}".into(), 1, 0),
                ("{\"b\":2}".into(), 4, 1),
                ("{\"c\":3}".into(), 5, 2)
            ]
        );
        assert!(records("").unwrap().is_empty());
    }

    #[test]
    fn json_arrays_split_into_elements() {
        let got = records("[\n {\"a\":\"x,]\\\"y\"},\n {\"b\":[1,{\"c\":2}]}\n]\n").unwrap();
        assert_eq!(
            got,
            vec![
                ("{\"a\":\"x,]\\\"y\"}".into(), 2, 0),
                ("{\"b\":[1,{\"c\":2}]}".into(), 3, 1)
            ]
        );
        assert!(records("[]").unwrap().is_empty());
        assert!(records("[1,2").is_err());
        assert!(records("[1,,2]").is_err());
        assert!(records("[1] x").is_err());
    }
}
