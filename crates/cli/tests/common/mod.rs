//! What the tests driving the binary share: a store made with the CLI (SQLite, or a
//! fresh PostgreSQL database per test) in a folder removed on drop, a `serve` process whose stderr (its log)
//! is kept, a small HTTP/1.1 client on a plain TCP stream (every byte of a request is
//! the test's, and a dropped connection is an error, never a retry), and usage
//! batches of unique events.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/spec-examples")
}

pub fn fixture(relative: &str) -> String {
    fixtures().join(relative).display().to_string()
}

/// A scratch folder, removed on drop.
pub struct Dir(pub PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new, empty scratch folder for the test `name`.
pub fn dir(name: &str) -> Dir {
    Dir(scratch(name))
}

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A store and the folder it lives in, removed (database included) on drop.
pub struct Store {
    pub dir: PathBuf,
    /// `--db FILE` or `--database-url URL --key-file FILE`.
    pub args: Vec<String>,
    /// The SQLite file, if it is one.
    pub file: Option<PathBuf>,
    database: Option<String>,
}

impl Store {
    pub fn sqlite(name: &str) -> Store {
        let dir = scratch(name);
        let file = dir.join("serve.db");
        Store {
            args: vec!["--db".into(), file.display().to_string()],
            dir,
            file: Some(file),
            database: None,
        }
    }

    /// A fresh database; `None` (the test skips) only outside CI when PostgreSQL is
    /// unreachable: in CI that is a failure.
    pub fn postgres(name: &str) -> Option<Store> {
        let mut admin = match postgres::Client::connect(PG_ADMIN, postgres::NoTls) {
            Ok(admin) => admin,
            Err(error) if std::env::var_os("CI").is_some() => panic!("PostgreSQL is unreachable in CI: {error}"),
            Err(error) => {
                eprintln!("skipping a PostgreSQL test outside CI: {error}");
                return None;
            }
        };
        let database = format!("revshare_test_{name}_{}", std::process::id());
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {database}")).unwrap();
        let dir = scratch(name);
        let key = dir.join("serve.key").display().to_string();
        Some(Store {
            args: vec![
                "--database-url".into(),
                format!("postgres://postgres@127.0.0.1:5432/{database}"),
                "--key-file".into(),
                key,
            ],
            dir,
            file: None,
            database: Some(database),
        })
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_revshare"));
        command
            .args(args)
            .args(&self.args)
            .current_dir(&self.dir)
            .env_remove("REVSHARE_DATABASE_URL")
            .env_remove("REVSHARE_KEY_FILE");
        command
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs a command that must succeed; its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.output(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// `init`, the acme-llama contract (licensor meta, host acme-cloud), the FX
    /// rates, and an `ops` party for operator tokens.
    pub fn setup(&self) {
        self.run(&["init"]);
        self.run(&["contract", "add", &fixture("contracts/acme-llama.toml")]);
        self.run(&["fx", "add", &fixture("fx.csv")]);
        self.run(&["party", "add", "ops"]);
    }

    /// A new token (the whole `rs_<id>_<secret>`).
    pub fn token(&self, party: &str, role: &str) -> String {
        let token = self.run(&["token", "create", "--party", party, "--role", role]);
        let token = token.trim().to_string();
        assert!(token.starts_with("rs_") && token.len() == 3 + 12 + 1 + 43, "{token}");
        token
    }

    /// SQLite only: a connection to the store's file.
    pub fn sqlite_connection(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.file.as_ref().expect("a SQLite store")).unwrap()
    }

    /// `revshare audit verify` holds (exit 0).
    pub fn assert_audit_verifies(&self) {
        let output = self.output(&["audit", "verify"]);
        assert!(
            output.status.success(),
            "audit verify failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(database) = &self.database {
            if let Ok(mut admin) = postgres::Client::connect(PG_ADMIN, postgres::NoTls) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("revshare-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The token id of a whole token (`rs_<id>_<secret>`).
pub fn token_id(token: &str) -> &str {
    &token[3..15]
}

/// The secret of a whole token.
pub fn token_secret(token: &str) -> &str {
    &token[16..]
}

/// A running `revshare serve`, its stderr kept line by line.
pub struct Serve {
    child: Option<Child>,
    pub address: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Serve {
    /// Starts `serve --listen 127.0.0.1:0 EXTRA…` on the store and waits until it
    /// listens.
    pub fn start(store: &Store, extra: &[&str]) -> Serve {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = store
            .command(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let kept = lines.clone();
        let reader = std::thread::spawn(move || {
            let mut sender = Some(sender);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(address) = listening_address(&line) {
                    if let Some(sender) = sender.take() {
                        let _ = sender.send(address);
                    }
                }
                kept.lock().unwrap().push(line);
            }
        });
        let address = match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve did not start: {:?}", lines.lock().unwrap());
            }
        };
        Serve {
            child: Some(child),
            address,
            lines,
            reader: Some(reader),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// The log lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn signal(&self, signal: i32) {
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0, "kill({signal})");
    }

    /// Sends SIGTERM and waits (at most a minute) for the exit; the status and every
    /// log line.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        self.signal(libc::SIGTERM);
        let status = self.wait(Duration::from_secs(60));
        (status, self.drain())
    }

    /// Waits (at most a minute) for an exit a signal sent before causes.
    pub fn wait_exit(mut self) -> (ExitStatus, Vec<String>) {
        let status = self.wait(Duration::from_secs(60));
        (status, self.drain())
    }

    /// SIGKILL; every log line.
    pub fn kill(mut self) -> Vec<String> {
        self.signal(libc::SIGKILL);
        self.wait(Duration::from_secs(60));
        self.drain()
    }

    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve did not stop within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn drain(&mut self) -> Vec<String> {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.logs()
    }

    pub fn get(&self, path: &str, token: &str) -> Response {
        Request::get(path).bearer(token).send(self.address).unwrap()
    }

    pub fn post(&self, path: &str, token: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Request::post(path)
            .bearer(token)
            .body(content_type, body)
            .send(self.address)
            .unwrap()
    }

    pub fn post_json(&self, path: &str, token: &str, body: &serde_json::Value) -> Response {
        self.post(path, token, "application/json", body.to_string())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The address of the line `serve` logs once it listens.
fn listening_address(line: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value.get("listening")?.as_str()?.parse().ok()
}

/// A request, sent on a connection of its own (`Connection: close`).
pub struct Request {
    method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(path: &str) -> Request {
        Request::new("GET", path)
    }

    pub fn post(path: &str) -> Request {
        Request::new("POST", path)
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Request {
        self.headers.push((name.into(), value.as_ref().to_vec()));
        self
    }

    pub fn bearer(self, token: &str) -> Request {
        self.header("Authorization", format!("Bearer {token}"))
    }

    pub fn body(self, content_type: &str, body: impl Into<Vec<u8>>) -> Request {
        let mut request = self.header("Content-Type", content_type);
        request.body = body.into();
        request
    }

    /// The body without a content type.
    pub fn raw_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sends it and reads the whole answer. An error means no complete answer came
    /// (refused or dropped connection).
    pub fn send(&self, address: SocketAddr) -> std::io::Result<Response> {
        self.send_split(address, 0, || {})
    }

    /// Sends the head and the first `at` bytes of the body, runs `between`, then
    /// sends the rest: a request in flight for as long as `between` takes.
    pub fn send_split(&self, address: SocketAddr, at: usize, between: impl FnOnce()) -> std::io::Result<Response> {
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(10))?;
        stream.set_read_timeout(Some(Duration::from_secs(90)))?;
        stream.set_nodelay(true)?;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n",
            self.method, self.path
        )
        .into_bytes();
        for (name, value) in &self.headers {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        if self.method != "GET" || !self.body.is_empty() {
            head.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        head.extend_from_slice(&self.body[..at]);
        stream.write_all(&head)?;
        between();
        let rest = &self.body[at..];
        // A large body is written beside the reading: the server may answer (413,
        // 429) before it has read all of it.
        let writer = if rest.len() > 64 * 1024 {
            let mut out = stream.try_clone()?;
            let body = rest.to_vec();
            Some(std::thread::spawn(move || {
                let _ = out.write_all(&body);
            }))
        } else {
            // The server may have answered without reading: a failed write is not
            // the end, the answer is read below.
            let _ = stream.write_all(rest);
            None
        };
        let mut received = Vec::new();
        let read = stream.read_to_end(&mut received);
        drop(stream);
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        match (Response::parse(&received), read) {
            (Some(response), _) => Ok(response),
            (None, Err(error)) => Err(error),
            (None, Ok(_)) => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "the connection closed without a whole answer ({} bytes: {:?})",
                    received.len(),
                    String::from_utf8_lossy(&received[..received.len().min(200)])
                ),
            )),
        }
    }
}

/// An answer.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn parse(bytes: &[u8]) -> Option<Response> {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&bytes[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let rest = &bytes[end + 4..];
        let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            dechunk(rest)?
        } else if let Some(length) = find("content-length") {
            let length: usize = length.parse().ok()?;
            rest.get(..length)?.to_vec()
        } else {
            rest.to_vec()
        };
        Some(Response { status, headers, body })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }

    /// An error answer's `{code, message}`, checking its shape on the way.
    pub fn error(&self) -> (String, String) {
        let value = self.json();
        let error = value
            .get("error")
            .and_then(|e| e.as_object())
            .unwrap_or_else(|| panic!("not an error answer: {} {}", self.status, self.text()));
        assert!(
            error.get("details").is_some_and(|d| d.is_object()),
            "no details: {}",
            self.text()
        );
        assert_eq!(self.header("content-type"), Some("application/json"), "{}", self.text());
        (
            error["code"].as_str().unwrap().to_string(),
            error["message"].as_str().unwrap().to_string(),
        )
    }

    /// Asserts an error answer with this status and code whose message names
    /// `named`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, named: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        let (got, message) = self.error();
        assert_eq!(got, code, "{message}");
        assert!(
            message.to_lowercase().contains(&named.to_lowercase()),
            "the message does not name `{named}`: {message}"
        );
    }
}

fn dechunk(mut bytes: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = bytes.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&bytes[..line]).ok()?.split(';').next()?.trim(), 16).ok()?;
        bytes = &bytes[line + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(bytes.get(..size)?);
        bytes = bytes.get(size + 2..)?;
    }
}

/// One usage event of acme-cloud (selected by the acme-llama contract), October 2026.
pub fn event(id: &str, customer: &str, day: u32) -> String {
    serde_json::json!({
        "specversion": "1.0",
        "type": "ai.usage.v1",
        "source": "acme-cloud/us",
        "id": id,
        "time": format!("2026-10-{:02}T12:00:00Z", 1 + day % 28),
        "data": {
            "host": "acme-cloud",
            "model": "llama-3.1-8b-instruct",
            "use_case": "customer_service",
            "region": "us",
            "customer": customer,
            "requests": 1,
            "input_tokens": 1000,
            "output_tokens": 200,
            "revenue": "0.004275",
            "currency": "USD",
        }
    })
    .to_string()
}

/// The id of event `i` of batch `tag`.
pub fn event_id(tag: &str, i: usize) -> String {
    format!("{tag}-{i:05}")
}

/// A batch of `n` unique events as NDJSON, ids `<tag>-00000…`; the same bytes each
/// time it is made.
pub fn batch(tag: &str, n: usize) -> String {
    let mut text = String::with_capacity(n * 420);
    for i in 0..n {
        text.push_str(&event(&event_id(tag, i), &format!("cust-{tag}-{}", i % 37), i as u32));
        text.push('\n');
    }
    text
}

/// How many events with ids `<tag>-…` the SQLite store holds.
pub fn stored_events(connection: &rusqlite::Connection, tag: &str) -> u64 {
    connection
        .query_row(
            "SELECT COUNT(*) FROM event_keys WHERE id >= ?1 AND id < ?2",
            (format!("{tag}-"), format!("{tag}.")),
            |row| row.get::<_, i64>(0),
        )
        .unwrap() as u64
}

/// Runs the binary in `dir`, away from any store or key file the environment names.
pub fn revshare(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_revshare"))
        .args(args)
        .current_dir(dir)
        .env_remove("REVSHARE_DATABASE_URL")
        .env_remove("REVSHARE_KEY_FILE")
        .output()
        .unwrap()
}

/// Runs the binary in `dir` like [`revshare`], with stdout a pipe and `COLUMNS` set
/// to `width` (what tables fit).
pub fn at_width(dir: &Path, width: usize, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_revshare"))
        .args(args)
        .current_dir(dir)
        .env("COLUMNS", width.to_string())
        .env_remove("REVSHARE_DATABASE_URL")
        .env_remove("REVSHARE_KEY_FILE")
        .output()
        .unwrap()
}

/// [`at_width`], requiring success: its stdout.
pub fn ok_at_width(dir: &Path, width: usize, args: &[&str]) -> String {
    let output = at_width(dir, width, args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Text that must be JSON.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Runs it and requires success: its stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let output = revshare(dir, args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs it and requires a refusal (exit 2): its stderr.
pub fn refused(dir: &Path, args: &[&str]) -> String {
    let output = revshare(dir, args);
    assert_eq!(output.status.code(), Some(2), "{args:?} should be refused with exit 2");
    String::from_utf8(output.stderr).unwrap()
}
