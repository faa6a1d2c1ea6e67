//! The docs test (issue 21, point 8): every command shown in README.md,
//! docs/operations.md and docs/api.md runs, and answers what the doc shows.
//!
//! # The convention the docs follow
//!
//! - Commands are read from fenced blocks marked `sh` or `console`. In a `sh` block
//!   every line is a command; in a `console` block a command is a line starting
//!   with `$ `, and the lines after it (up to the next command) are its output. A
//!   line ending with `\` (or inside an open quote) continues on the next line. An
//!   unmarked block right after a `sh` block is the output of that block's last
//!   command.
//! - A trailing `# comment` explains the command, except when it starts with:
//!   - `refused` or `refused: why`: the command must fail (a non-zero exit; for
//!     `curl`, an HTTP status of 400 or more);
//!   - `not run`: the test skips it (say why after it);
//!   - `{` or `[`, maybe after an HTTP status (`# 201 {"payment_id":…, …}`): the
//!     shape of the answer (a comment line right after the command may show it
//!     too).
//!
//!   In a `console` block, an output line starting with `revshare: ` (the CLI's
//!   error prefix) marks the command as refused, and the refusal must be that one:
//!   its first three words without digits, paths or ids are the same.
//! - Synopsis notation, in `sh` lines: `[…]` is an optional part, run with it
//!   (unless the table of its doc drops it); `a|b` inside a word, the first
//!   alternative; `X | Y` where `Y` is a revshare subcommand, two commands
//!   (`revshare X`, `revshare Y`); `…` after a part, once. Placeholders
//!   (`ID`, `FILE`, `D-…`, `S.json`, the ids and addresses of the examples) are
//!   replaced from the small tables below, per doc; one left unreplaced (an
//!   upper-case word or a `…` in a revshare command) fails the test, naming it.
//! - What runs: `revshare` and `curl` commands (`curl` against a `revshare serve`
//!   the test starts on a free port, with tokens it creates: `127.0.0.1:8080` is
//!   its address) and the shell's helpers the docs use (`cd`, `export`,
//!   assignments, `mkdir`, `cat`, `ls`, `jq`, `mv`, `cp`). Not run: `revshare
//!   serve` and any revshare command given `--listen` (servers: the test's own
//!   `serve` stands in), `revshare witness --every` (it runs until stopped: in a
//!   synopsis, `[--every …]` is dropped, and one round runs), and other programs
//!   (`cargo`, `scripts/…`). A command still running after two minutes is killed
//!   and reported.
//! - Output is compared by shape, never by value: JSON by its keys (each key the
//!   doc shows is in the answer, nested objects and the first element of arrays
//!   alike), a table by its header line, CSV by its header line. Other text is not
//!   compared.
//!
//! # The stores
//!
//! README.md and docs/api.md run against the demo's store (`revshare demo --db
//! revshare.db`, so that a command without `--db` uses it), each in a folder of
//! its own, with a `revshare serve` on it; docs/operations.md runs its own story
//! from its first command, on a scratch store made from the spec's fixtures as it
//! says, in a folder with the files it names (its PostgreSQL part on a fresh
//! database; before "Restoring a backup", the test restores one). Commands run in the order of their doc, in one shell session per
//! doc (`cd`, variables and exports carry over), with `COLUMNS` set to the width
//! the doc's tables were printed at.
//!
//! README.md's claim that every list and show command takes `--format
//! table|json|csv` is checked too: each one it names, in each format.
//!
//! A failure names the doc, its line and the command as run, and what differed;
//! all the failures of a doc are reported together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;

// ---------------------------------------------------------------------------
// Reading the docs.

/// What a doc shows a command answers.
#[derive(Clone, Debug)]
enum Shown {
    /// Output lines (a `console` block, or the unmarked block after a `sh` one).
    Lines(Vec<String>),
    /// A comment showing an answer: maybe an HTTP status, then a JSON shape.
    Answer { status: Option<u16>, shape: String },
}

#[derive(Clone, Debug)]
struct DocCommand {
    line: usize,
    /// The command, continuation lines joined, its trailing comment removed.
    text: String,
    comment: Option<String>,
    shown: Option<Shown>,
}

impl DocCommand {
    fn refused(&self) -> bool {
        self.comment
            .as_deref()
            .is_some_and(|c| c == "refused" || c.starts_with("refused:"))
            || matches!(&self.shown, Some(Shown::Lines(lines)) if lines.iter().any(|l| l.starts_with("revshare: ")))
    }

    fn not_run(&self) -> Option<&str> {
        self.comment.as_deref().filter(|c| c.starts_with("not run"))
    }
}

/// The fence's info string and indentation, if `line` opens or closes a fence.
fn fence(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start();
    trimmed
        .strip_prefix("```")
        .map(|info| (line.len() - trimmed.len(), info.trim()))
}

/// Splits a line into its text and its trailing comment (a `#` after whitespace,
/// outside quotes).
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quote = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if previous.is_whitespace() => return (line[..i].trim_end(), Some(line[i + 1..].trim())),
            _ => {}
        }
        previous = c;
    }
    (line.trim_end(), None)
}

/// Whether a quote is still open at the end of `text`.
fn open_quote(text: &str) -> bool {
    let mut quote = None;
    for c in text.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    quote.is_some()
}

/// Whether brackets are still open at the end of a shape's text.
fn unbalanced(text: &str) -> bool {
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

/// A comment that shows an answer: `{…}`, `[…]`, or an HTTP status before one.
fn answer(comment: &str) -> Option<Shown> {
    let (status, rest) = match comment.split_once(' ') {
        Some((code, rest)) if code.len() == 3 && code.chars().all(|c| c.is_ascii_digit()) => {
            (code.parse().ok(), rest.trim())
        }
        _ => (None, comment),
    };
    (rest.starts_with('{') || rest.starts_with('[')).then(|| Shown::Answer {
        status,
        shape: rest.to_string(),
    })
}

/// Every command of the `sh` and `console` blocks of a doc, in order.
fn doc_commands(text: &str) -> Vec<DocCommand> {
    let lines: Vec<&str> = text.lines().collect();
    let mut commands: Vec<DocCommand> = Vec::new();
    let mut index = 0;
    // The index in `commands` of the last command of the last `sh` block, while
    // only blank lines follow it.
    let mut after_sh: Option<usize> = None;
    while index < lines.len() {
        let Some((indent, info)) = fence(lines[index]) else {
            if !lines[index].trim().is_empty() {
                after_sh = None;
            }
            index += 1;
            continue;
        };
        let start = index + 1;
        let end = (start..lines.len())
            .find(|i| fence(lines[*i]).is_some())
            .unwrap_or(lines.len());
        let body: Vec<(usize, String)> = (start..end)
            .map(|i| {
                let line = lines[i];
                let cut = line.len() - line.trim_start().len();
                (i + 1, line[cut.min(indent)..].to_string())
            })
            .collect();
        index = end + 1;
        match info {
            "sh" | "bash" | "shell" => {
                let before = commands.len();
                sh_block(&body, &mut commands);
                after_sh = (commands.len() > before).then(|| commands.len() - 1);
            }
            "console" => {
                console_block(&body, &mut commands);
                after_sh = None;
            }
            "" => {
                if let Some(last) = after_sh.take() {
                    commands[last].shown = Some(Shown::Lines(body.into_iter().map(|(_, l)| l).collect()));
                }
            }
            _ => after_sh = None,
        }
    }
    commands
}

fn sh_block(body: &[(usize, String)], commands: &mut Vec<DocCommand>) {
    let mut i = 0;
    // Set while a shape shown in comment lines is still open.
    let mut open_shape = false;
    while i < body.len() {
        let (number, line) = &body[i];
        let trimmed = line.trim();
        i += 1;
        if trimmed.is_empty() {
            open_shape = false;
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            let comment = comment.trim();
            if let Some(last) = commands.last_mut() {
                if open_shape {
                    if let Some(Shown::Answer { shape, .. }) = &mut last.shown {
                        shape.push_str(comment);
                        open_shape = unbalanced(shape);
                    }
                } else if last.shown.is_none() && *number == last_line(body, i - 1) + 1 {
                    if let Some(shown) = answer(comment) {
                        open_shape = matches!(&shown, Shown::Answer { shape, .. } if unbalanced(shape));
                        last.shown = Some(shown);
                    }
                }
            }
            continue;
        }
        let mut text = String::new();
        let mut comment = None;
        let mut current = line.clone();
        loop {
            let (code, trailing) = split_comment(&current);
            if let Some(trailing) = trailing {
                comment = Some(trailing.to_string());
            }
            if let Some(code) = code.strip_suffix('\\') {
                text.push_str(code.trim_end());
                text.push(' ');
            } else if open_quote(&format!("{text}{code}")) {
                text.push_str(current.trim_end());
                text.push('\n');
            } else {
                text.push_str(code.trim());
                break;
            }
            if i >= body.len() {
                break;
            }
            current = body[i].1.trim_start().to_string();
            i += 1;
        }
        let shown = comment.as_deref().and_then(answer);
        open_shape = matches!(&shown, Some(Shown::Answer { shape, .. }) if unbalanced(shape));
        commands.push(DocCommand {
            line: *number,
            text: text.trim().to_string(),
            comment,
            shown,
        });
    }
}

/// The doc line number of the body line before `index` (the command's last line).
fn last_line(body: &[(usize, String)], index: usize) -> usize {
    body[index.saturating_sub(1)].0
}

fn console_block(body: &[(usize, String)], commands: &mut Vec<DocCommand>) {
    let mut i = 0;
    while i < body.len() {
        let (number, line) = &body[i];
        i += 1;
        let Some(first) = line.strip_prefix("$ ") else {
            if let Some(last) = commands.last_mut() {
                if let Some(Shown::Lines(lines)) = &mut last.shown {
                    lines.push(line.clone());
                }
            }
            continue;
        };
        let mut text = String::new();
        let mut comment = None;
        let mut current = first.to_string();
        loop {
            let (code, trailing) = split_comment(&current);
            if let Some(trailing) = trailing {
                comment = Some(trailing.to_string());
            }
            match code.strip_suffix('\\') {
                Some(code) if i < body.len() => {
                    text.push_str(code.trim_end());
                    text.push(' ');
                    current = body[i].1.trim_start().to_string();
                    i += 1;
                }
                _ => {
                    text.push_str(code.trim());
                    break;
                }
            }
        }
        commands.push(DocCommand {
            line: *number,
            text,
            comment,
            shown: Some(Shown::Lines(Vec::new())),
        });
    }
}

// ---------------------------------------------------------------------------
// Shapes.

/// A JSON value as a doc shows it: `…` and bare words stand for values.
#[derive(Debug)]
enum Shape {
    Object(Vec<(String, Shape)>),
    Array(Vec<Shape>),
    Text(String),
    Other,
}

struct ShapeParser {
    chars: Vec<char>,
    at: usize,
}

impl ShapeParser {
    fn parse(text: &str) -> Option<Shape> {
        let start = text.find(['{', '['])?;
        let mut parser = ShapeParser {
            chars: text[start..].chars().collect(),
            at: 0,
        };
        parser.value()
    }

    fn space(&mut self) {
        while self.at < self.chars.len() && self.chars[self.at].is_whitespace() {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn string(&mut self) -> Option<String> {
        self.at += 1;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.at += 1;
            match c {
                '"' => return Some(out),
                '\\' => {
                    out.push(self.peek()?);
                    self.at += 1;
                }
                c => out.push(c),
            }
        }
        None
    }

    fn value(&mut self) -> Option<Shape> {
        self.space();
        match self.peek()? {
            '{' => {
                self.at += 1;
                let mut members = Vec::new();
                loop {
                    self.space();
                    match self.peek()? {
                        '}' => {
                            self.at += 1;
                            return Some(Shape::Object(members));
                        }
                        ',' => self.at += 1,
                        '"' => {
                            let key = self.string()?;
                            self.space();
                            if self.peek() == Some(':') {
                                self.at += 1;
                                members.push((key, self.value()?));
                            }
                        }
                        _ => {
                            self.value()?;
                        }
                    }
                }
            }
            '[' => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.space();
                    match self.peek()? {
                        ']' => {
                            self.at += 1;
                            return Some(Shape::Array(items));
                        }
                        ',' => self.at += 1,
                        '…' => {
                            self.at += 1;
                        }
                        _ => items.push(self.value()?),
                    }
                }
            }
            '"' => self.string().map(Shape::Text),
            _ => {
                while let Some(c) = self.peek() {
                    if matches!(c, ',' | ']' | '}') {
                        break;
                    }
                    self.at += 1;
                }
                Some(Shape::Other)
            }
        }
    }
}

/// The differences between a shape a doc shows and an actual value: keys the
/// answer lacks, objects or arrays where it has something else.
fn compare(shown: &Shape, actual: &Value, path: &str, top: bool, out: &mut Vec<String>) {
    match (shown, actual) {
        (Shape::Object(members), Value::Object(object)) => {
            for (key, shape) in members {
                match object.get(key) {
                    Some(value) => compare(shape, value, &format!("{path}.{key}"), false, out),
                    None => out.push(format!(
                        "the doc shows `{path}.{key}`, the answer has no `{key}` (its keys: {})",
                        object.keys().cloned().collect::<Vec<_>>().join(", ")
                    )),
                }
            }
        }
        (Shape::Array(items), Value::Array(values)) => {
            if top && items.iter().all(|i| matches!(i, Shape::Text(_))) {
                for item in items {
                    if let Shape::Text(text) = item {
                        if !values.iter().any(|v| v.as_str() == Some(text)) {
                            out.push(format!("the doc shows `{text}` in `{path}`, the answer does not"));
                        }
                    }
                }
            } else if let (Some(item), Some(value)) = (items.first(), values.first()) {
                compare(item, value, &format!("{path}[0]"), false, out);
            }
        }
        (Shape::Object(_), other) => out.push(format!("the doc shows an object at `{path}`, the answer {other}")),
        (Shape::Array(_), other) => out.push(format!("the doc shows an array at `{path}`, the answer {other}")),
        _ => {}
    }
}

/// The header of the first table in `lines`: the line between a `─` rule and a
/// `═` rule.
fn table_header(lines: &[&str]) -> Option<String> {
    lines.windows(3).find_map(|w| {
        (w[0].starts_with('─') && w[2].starts_with('═')).then(|| w[1].split_whitespace().collect::<Vec<_>>().join(" "))
    })
}

/// How an output differs from what the doc shows, by shape.
fn shape_differences(command: &str, shown: &Shown, stdout: &str) -> Vec<String> {
    let mut out = Vec::new();
    match shown {
        Shown::Answer { shape, .. } => match ShapeParser::parse(shape) {
            None => out.push(format!("the doc's answer `{shape}` is not a shape this test reads")),
            Some(shape) => match serde_json::from_str::<Value>(stdout) {
                Ok(value) => compare(&shape, &value, "$", true, &mut out),
                Err(e) => out.push(format!("the doc shows JSON, the answer is not ({e}): {stdout}")),
            },
        },
        Shown::Lines(lines) => {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let Some(first) = lines.iter().find(|l| !l.trim().is_empty()) else {
                return out;
            };
            let actual: Vec<&str> = stdout.lines().collect();
            if first.starts_with('{') || first.starts_with('[') {
                let shown_text = if first.starts_with('[') {
                    lines.join("\n")
                } else {
                    first.to_string()
                };
                let actual_value = serde_json::from_str::<Value>(stdout).or_else(|_| {
                    serde_json::from_str::<Value>(actual.iter().find(|l| !l.trim().is_empty()).unwrap_or(&""))
                });
                match (ShapeParser::parse(&shown_text), actual_value) {
                    (Some(shape), Ok(value)) => compare(&shape, &value, "$", true, &mut out),
                    (None, _) => out.push(format!("the doc's output `{first}` is not a shape this test reads")),
                    (_, Err(e)) => out.push(format!("the doc shows JSON, the output is not ({e}): {stdout}")),
                }
            } else if let Some(header) = table_header(&lines) {
                match table_header(&actual) {
                    Some(got) if got == header => {}
                    Some(got) => out.push(format!("the doc's table header is `{header}`, the output's `{got}`")),
                    None => out.push(format!(
                        "the doc shows a table (`{header}`), the output has none:\n{stdout}"
                    )),
                }
            } else if command.contains("--format csv") {
                let got = actual.first().copied().unwrap_or("");
                if got != *first {
                    out.push(format!("the doc's CSV header is `{first}`, the output's `{got}`"));
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Running them.

type Dynamic = fn(&mut Session) -> Result<String, String>;

#[derive(Clone, Copy)]
enum Fill {
    Text(&'static str),
    Dynamic(Dynamic),
}

/// A placeholder word: replaced by `fill` when it is a whole unquoted word of a
/// command, after the word `after` (if given), in a command containing `within`
/// (if given).
struct Word {
    word: &'static str,
    after: Option<&'static str>,
    within: Option<&'static str>,
    fill: Fill,
}

const fn word(word: &'static str, fill: Fill) -> Word {
    Word {
        word,
        after: None,
        within: None,
        fill,
    }
}

const fn after(after: &'static str, word: &'static str, fill: Fill) -> Word {
    Word {
        word,
        after: Some(after),
        within: None,
        fill,
    }
}

const fn within(within: &'static str, word: &'static str, fill: Fill) -> Word {
    Word {
        word,
        after: None,
        within: Some(within),
        fill,
    }
}

/// The placeholders of one doc.
struct Table {
    /// Replaced wherever they occur (addresses, ids inside URLs, example paths).
    substrings: &'static [(&'static str, Fill)],
    words: &'static [Word],
    /// Optional parts (`[--opt …]`) left out, by their first word.
    dropped: &'static [&'static str],
    /// What the test does before a command (by the start of its text), to put
    /// the store in the state the doc describes.
    before: &'static [(&'static str, Dynamic)],
}

/// The CLI's subcommands, from `revshare --help` (for `revshare X | Y`: two
/// commands).
fn subcommands() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let help = Command::new(env!("CARGO_BIN_EXE_revshare"))
            .arg("--help")
            .output()
            .expect("revshare --help runs");
        let help = String::from_utf8_lossy(&help.stdout).into_owned();
        let names: Vec<String> = help
            .lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect();
        assert!(
            names.iter().any(|n| n == "audit"),
            "no subcommands in `revshare --help`:\n{help}"
        );
        names
    })
}

/// The shell's helpers a doc may use; other programs are not run.
const HELPERS: &[&str] = &["cd", "export", "mkdir", "cat", "ls", "jq", "mv", "cp"];

struct Session {
    doc: &'static str,
    cwd: PathBuf,
    vars: BTreeMap<String, String>,
    columns: usize,
    /// Each command's stdout, in order.
    outputs: Vec<String>,
    failures: Vec<String>,
    /// Whether PostgreSQL commands run (else they are skipped, outside CI).
    postgres: bool,
    ran: usize,
    /// How many outputs were compared with a shape the doc shows.
    compared: usize,
    /// The commands not run, with why.
    skipped: Vec<String>,
    /// Every command run, as run.
    run_log: Vec<String>,
    /// The test's `serve`, as `http://…`.
    url: Option<String>,
    /// The PostgreSQL database of the runbook.
    database: Option<String>,
    /// Set once an `export` of a PostgreSQL URL was skipped: every command after
    /// it would run on PostgreSQL.
    skip_rest: bool,
    /// How many disputes the test opened itself.
    disputes_opened: usize,
    /// The size of the log of the backup the runbook's test restored.
    restored_size: Option<String>,
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Session {
    fn new(doc: &'static str, cwd: &Path, columns: usize) -> Session {
        Session {
            doc,
            cwd: cwd.to_path_buf(),
            vars: BTreeMap::new(),
            columns,
            outputs: Vec::new(),
            failures: Vec::new(),
            postgres: true,
            ran: 0,
            compared: 0,
            skipped: Vec::new(),
            run_log: Vec::new(),
            url: None,
            database: None,
            skip_rest: false,
            disputes_opened: 0,
            restored_size: None,
        }
    }

    /// Runs `script` with bash in the session's folder and environment. A command
    /// still running after `LIMIT` (one that runs until stopped, such as a
    /// server) is killed with everything it started, and reported.
    fn shell(&self, script: &str) -> Ran {
        use std::io::Read;
        use std::os::unix::process::CommandExt;
        const LIMIT: std::time::Duration = std::time::Duration::from_secs(120);
        let bin = Path::new(env!("CARGO_BIN_EXE_revshare")).parent().unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(format!("set -o pipefail\n{script}"))
            .current_dir(&self.cwd)
            .env_remove("REVSHARE_DATABASE_URL")
            .env_remove("REVSHARE_KEY_FILE")
            .envs(&self.vars)
            .env("PATH", path)
            .env("COLUMNS", self.columns.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("bash runs");
        let read = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                String::from_utf8_lossy(&bytes).into_owned()
            })
        };
        let stdout = read(Box::new(child.stdout.take().unwrap()));
        let stderr = read(Box::new(child.stderr.take().unwrap()));
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > LIMIT {
                // The whole process group: bash and what it started.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        // Whatever it left running in the background too (its pipes would keep
        // the reads below waiting).
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let mut stderr = stderr.join().unwrap_or_default();
        if status.is_none() {
            stderr.push_str(&format!(
                "\n(still running after {} s, killed: a command that runs until stopped is marked `# not run: …`)",
                LIMIT.as_secs()
            ));
        }
        Ran {
            code: status.and_then(|s| s.code()),
            stdout: stdout.join().unwrap_or_default(),
            stderr,
        }
    }

    /// The test's own revshare command (preparing a placeholder): its stdout.
    fn revshare(&self, args: &[&str]) -> Result<String, String> {
        let script = std::iter::once("revshare")
            .chain(args.iter().copied())
            .map(quote)
            .collect::<Vec<_>>()
            .join(" ");
        let ran = self.shell(&script);
        if ran.code == Some(0) {
            Ok(ran.stdout)
        } else {
            Err(format!(
                "the test's own `{script}` failed: {}{}",
                ran.stdout, ran.stderr
            ))
        }
    }

    fn revshare_json(&self, args: &[&str]) -> Result<Value, String> {
        let text = self.revshare(args)?;
        serde_json::from_str(&text).map_err(|e| format!("`revshare {}` is not JSON ({e}): {text}", args.join(" ")))
    }

    /// The last id `<prefix>` + 12 hex digits printed by a command so far.
    fn last_printed(&self, prefix: &str) -> Result<String, String> {
        for output in self.outputs.iter().rev() {
            let found = output
                .match_indices(prefix)
                .filter_map(|(at, _)| {
                    let id = output.get(at..at + prefix.len() + 12)?;
                    id[prefix.len()..]
                        .chars()
                        .all(|c| c.is_ascii_hexdigit())
                        .then(|| id.to_string())
                })
                .last();
            if let Some(id) = found {
                return Ok(id);
            }
        }
        Err(format!("no command printed an id `{prefix}…` yet"))
    }

    /// A member of the last JSON object printed that has it.
    fn last_member(&self, member: &str) -> Result<String, String> {
        self.outputs
            .iter()
            .rev()
            .filter_map(|o| serde_json::from_str::<Value>(o).ok())
            .find_map(|v| {
                v.get(member)
                    .map(|m| m.as_str().map(str::to_string).unwrap_or(m.to_string()))
            })
            .ok_or_else(|| format!("no answer printed a `{member}` yet"))
    }

    fn fail(&mut self, command: &DocCommand, run: &str, why: impl std::fmt::Display) {
        self.failures.push(format!(
            "{}:{}: `{}`{}\n    {}",
            self.doc,
            command.line,
            command.text,
            if run != command.text {
                format!("\n    run as `{run}`")
            } else {
                String::new()
            },
            why.to_string().replace('\n', "\n    ")
        ));
    }

    /// Runs every command of a doc, in order.
    fn run_doc(&mut self, text: &str, table: &Table) {
        for command in doc_commands(text) {
            self.run_command(&command, table);
        }
    }

    fn run_command(&mut self, command: &DocCommand, table: &Table) {
        if let Some(why) = command.not_run() {
            self.skipped
                .push(format!("{}:{}: {} ({why})", self.doc, command.line, command.text));
            return;
        }
        if !self.postgres {
            // Outside CI without PostgreSQL: its commands are skipped, and all
            // after an `export` of its URL (they would run on it).
            let text = &command.text;
            if text.starts_with("export REVSHARE_DATABASE_URL") {
                self.skip_rest = true;
            }
            if self.skip_rest
                || text.contains("postgres://")
                || text.contains("rs_runbook_pg")
                || text.contains("--database-url URL")
            {
                self.skipped.push(format!(
                    "{}:{}: {} (no PostgreSQL)",
                    self.doc, command.line, command.text
                ));
                return;
            }
        }
        for (start, prepare) in table.before {
            if command.text.starts_with(start) {
                if let Err(why) = prepare(self) {
                    return self.fail(command, &command.text, why);
                }
            }
        }
        let expanded = match self.expand(command, table) {
            Ok(expanded) => expanded,
            Err(why) => return self.fail(command, &command.text, why),
        };
        for run in expanded {
            self.run_one(command, &run);
        }
    }

    /// The command lines to run for a doc's command: alternatives split,
    /// placeholders replaced, synopsis notation expanded.
    fn expand(&mut self, command: &DocCommand, table: &Table) -> Result<Vec<String>, String> {
        let mut text = command.text.clone();
        for (from, fill) in table.substrings {
            if text.contains(from) {
                let to = self.fill(*fill)?;
                text = text.replace(from, &to);
            }
        }
        // `revshare X | Y` where Y is a subcommand: two commands.
        let mut parts: Vec<String> = Vec::new();
        for piece in text.split(" | ") {
            let first = piece.split_whitespace().next().unwrap_or("");
            match parts.last_mut() {
                Some(_) if text.starts_with("revshare ") && subcommands().iter().any(|s| s == first) => {
                    parts.push(format!("revshare {piece}"));
                }
                Some(last) => {
                    last.push_str(" | ");
                    last.push_str(piece);
                }
                None => parts.push(piece.to_string()),
            }
        }
        parts.into_iter().map(|part| self.expand_words(&part, table)).collect()
    }

    fn expand_words(&mut self, text: &str, table: &Table) -> Result<String, String> {
        let tokens = tokenize(text);
        let revshare = tokens.iter().any(|t| t == "revshare");
        let mut out: Vec<String> = Vec::new();
        // Nested optional parts: whether each open one is dropped.
        let mut groups: Vec<bool> = Vec::new();
        let mut previous = String::new();
        for token in tokens {
            let quoted = token.contains(['\'', '"', '$', '@']);
            let mut bare = token.as_str();
            let mut opened = 0;
            while !quoted && bare.starts_with('[') && bare.len() > 1 {
                bare = &bare[1..];
                opened += 1;
            }
            let mut closed = 0;
            loop {
                // `…` after a part: once.
                if let Some(rest) = bare
                    .strip_suffix('…')
                    .filter(|_| !quoted && !bare.starts_with("D-") && !bare.starts_with("P-"))
                {
                    bare = rest;
                } else if let Some(rest) = bare
                    .strip_suffix(']')
                    .filter(|_| !quoted && (closed < groups.len() + opened))
                {
                    bare = rest;
                    closed += 1;
                } else {
                    break;
                }
            }
            for _ in 0..opened {
                let dropped = groups.last().copied().unwrap_or(false) || table.dropped.contains(&bare);
                groups.push(dropped);
            }
            let dropped = groups.last().copied().unwrap_or(false);
            let word = bare.to_string();
            for _ in 0..closed {
                groups.pop();
            }
            if dropped || word.is_empty() {
                previous = word;
                continue;
            }
            let mut value = word.clone();
            if !quoted {
                if let Some(entry) = table.words.iter().find(|w| {
                    w.word == word && w.after.is_none_or(|a| a == previous) && w.within.is_none_or(|c| text.contains(c))
                }) {
                    value = self.fill(entry.fill)?;
                } else if word.contains('|') && !word.starts_with('|') && word.len() > 1 {
                    value = word.split('|').next().unwrap().to_string();
                }
                if revshare && value == word && unresolved(&value) {
                    return Err(format!(
                        "the placeholder `{value}` has no value: add it to the table of {} in tests/docs.rs",
                        self.doc
                    ));
                }
            }
            previous = word;
            out.push(value);
        }
        Ok(out.join(" "))
    }

    fn fill(&mut self, fill: Fill) -> Result<String, String> {
        match fill {
            Fill::Text(text) => Ok(text.to_string()),
            Fill::Dynamic(f) => f(self),
        }
    }

    fn run_one(&mut self, command: &DocCommand, run: &str) {
        let tokens = tokenize(run);
        let assignments = tokens.iter().take_while(|t| assignment(t).is_some()).count();
        let program = tokens.get(assignments).map(String::as_str).unwrap_or("");
        if program.is_empty() || program == "export" {
            return self.assign(command, run);
        }
        if program == "revshare"
            && (tokens.get(assignments + 1).is_some_and(|t| t == "serve")
                || tokens.iter().any(|t| t == "--listen")
                || (tokens.get(assignments + 1).is_some_and(|t| t == "witness") && run.contains("--every")))
        {
            self.skipped
                .push(format!("{}:{}: {run} (runs until stopped)", self.doc, command.line));
            return;
        }
        if !(program == "revshare" || program == "curl" || HELPERS.contains(&program)) {
            self.skipped
                .push(format!("{}:{}: {run} (not the CLI)", self.doc, command.line));
            return;
        }
        if program == "cd" {
            let to = self.cwd.join(tokens.get(1).map(String::as_str).unwrap_or("."));
            if !to.is_dir() {
                return self.fail(command, run, format!("{} is not a folder", to.display()));
            }
            self.cwd = to;
            return;
        }
        let script = if program == "curl" {
            run.replacen("curl ", "curl -w '%{stderr}\\nhttp_status %{http_code}\\n' ", 1)
        } else {
            run.to_string()
        };
        let ran = self.shell(&script);
        self.ran += 1;
        self.run_log.push(run.to_string());
        eprintln!("{}:{}: {run}: exit {:?}", self.doc, command.line, ran.code);
        self.outputs.push(ran.stdout.clone());
        let status: Option<u16> = (program == "curl")
            .then(|| {
                ran.stderr
                    .lines()
                    .rev()
                    .find_map(|l| l.strip_prefix("http_status ")?.trim().parse().ok())
            })
            .flatten();
        let refused = command.refused();
        let failed = ran.code != Some(0) || status.is_some_and(|s| s >= 400 || s == 0);
        let said = || {
            format!(
                "exit {:?}{}\n--- stdout\n{}--- stderr\n{}",
                ran.code,
                status.map(|s| format!(", HTTP {s}")).unwrap_or_default(),
                clip(&ran.stdout),
                clip(&ran.stderr)
            )
        };
        if refused && !failed {
            return self.fail(
                command,
                run,
                format!("the doc shows it refused, it succeeded: {}", said()),
            );
        }
        if let (true, Some(Shown::Lines(lines))) = (refused, &command.shown) {
            // The refusal is the one the doc shows: its first words (those without
            // digits, paths or ids) are the same.
            let words = |line: &str| -> Vec<String> {
                line.split_whitespace()
                    .skip(1)
                    .filter(|w| !w.contains(|c: char| c.is_ascii_digit() || matches!(c, '/' | '.' | '_' | '-')))
                    .take(3)
                    .map(|w| w.trim_end_matches([',', ':', ';']).to_string())
                    .collect()
            };
            if let Some(shown) = lines.iter().find(|l| l.starts_with("revshare: ")) {
                let got = ran.stderr.lines().find(|l| l.starts_with("revshare: ")).unwrap_or("");
                if words(shown) != words(got) {
                    return self.fail(
                        command,
                        run,
                        format!("the doc shows the refusal `{shown}`, the command said `{got}`"),
                    );
                }
            }
        }
        if !refused && failed {
            return self.fail(command, run, format!("refused: {}", said()));
        }
        if let (
            Some(Shown::Answer {
                status: Some(shown), ..
            }),
            Some(got),
        ) = (&command.shown, status)
        {
            if *shown != got {
                return self.fail(command, run, format!("the doc shows HTTP {shown}, the answer is {got}"));
            }
        }
        if let Some(shown) = &command.shown {
            if !refused {
                self.compared += 1;
                let differences = shape_differences(run, shown, &ran.stdout);
                if !differences.is_empty() {
                    self.fail(command, run, differences.join("\n"));
                }
            }
        }
    }

    /// `NAME=value…` or `export NAME=value…`: the values, as bash makes them, kept
    /// for the next commands.
    fn assign(&mut self, command: &DocCommand, run: &str) {
        let names: Vec<String> = tokenize(run)
            .iter()
            .filter_map(|t| assignment(t).map(str::to_string))
            .collect();
        let print: String = names.iter().map(|n| format!(" \"${n}\"")).collect();
        let ran = self.shell(&format!("set -e\n{run}\nprintf '%s\\0'{print}"));
        if ran.code != Some(0) {
            return self.fail(command, run, format!("failed: {}{}", ran.stdout, ran.stderr));
        }
        for (name, value) in names.into_iter().zip(ran.stdout.split('\0')) {
            self.vars.insert(name, value.to_string());
        }
    }
}

fn clip(text: &str) -> String {
    let mut text: String = text.chars().take(1500).collect();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// A word the doc meant to be replaced: upper case (`ID`, `FILE`, `S.json`), or
/// with a `…`.
fn unresolved(word: &str) -> bool {
    let stem = word.split('.').next().unwrap_or(word);
    word.contains('…')
        || (!stem.is_empty()
            && stem.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && stem
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()))
}

/// The name of a `NAME=value` word.
fn assignment(token: &str) -> Option<&str> {
    let (name, _) = token.split_once('=')?;
    (!name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then_some(name)
}

/// Words split at whitespace outside quotes, each as written (quotes kept).
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    let mut depth = 0;
    for c in text.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, c) if c.is_whitespace() && depth == 0 => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn quote(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

fn report(session: &Session) {
    eprintln!(
        "{}: {} commands run, {} outputs compared with the doc; not run:\n  {}",
        session.doc,
        session.ran,
        session.compared,
        session.skipped.join("\n  ")
    );
    assert!(session.ran > 0, "{}: no command ran", session.doc);
    assert!(
        session.failures.is_empty(),
        "{} of the commands of {} failed:\n\n{}",
        session.failures.len(),
        session.doc,
        session.failures.join("\n\n")
    );
}

/// The tools the docs' commands use besides revshare.
fn tools_present() -> bool {
    let missing: Vec<&str> = ["bash", "curl", "jq"]
        .into_iter()
        .filter(|tool| {
            Command::new(tool)
                .arg("--version")
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true)
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the docs test needs {} in CI",
        missing.join(", ")
    );
    eprintln!("skipping the docs test: {} missing", missing.join(", "));
    false
}

/// The demo's store as `revshare.db` in a scratch folder (its files in
/// `revshare-demo/`), as a `Store` a `serve` can start on.
fn demo_store(name: &str) -> common::Store {
    let mut store = common::Store::sqlite(name);
    store.args = vec!["--db".into(), "revshare.db".into()];
    store.file = Some(store.dir.join("revshare.db"));
    let output = common::revshare(&store.dir, &["--db", "revshare.db", "demo", "--events", "3000"]);
    assert!(
        output.status.success(),
        "the demo failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The files the docs' commands name.
    let dir = &store.dir;
    write(
        dir,
        "acme-llama.toml",
        read("fixtures/spec-examples/contracts/acme-llama.toml"),
    );
    write(dir, "fx.csv", read("fixtures/spec-examples/fx.csv"));
    write(dir, "usage.ndjson", common::batch(name, 20));
    store
}

// ---------------------------------------------------------------------------
// Placeholders shared by the docs run on the demo store.

/// The demo's proven event (acme-cloud, October, counted in acme-llama/2026-10).
fn demo_event(session: &Session) -> Result<Value, String> {
    let path = session.cwd.join("revshare-demo/event.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

fn demo_source(session: &mut Session) -> Result<String, String> {
    Ok(demo_event(session)?["source"].as_str().unwrap_or_default().to_string())
}

fn demo_id(session: &mut Session) -> Result<String, String> {
    Ok(demo_event(session)?["id"].as_str().unwrap_or_default().to_string())
}

/// Another acme-cloud October event of the demo (one to void).
fn other_event(session: &Session) -> Result<Value, String> {
    let proven = demo_event(session)?;
    let path = session.cwd.join("revshare-demo/usage-sep-oct.ndjson");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| {
            e["data"]["host"] == "acme-cloud"
                && e["id"].as_str().is_some_and(|id| id.starts_with("oct-"))
                && e["id"] != proven["id"]
        })
        .ok_or_else(|| "the demo has one acme-cloud October event only".to_string())
}

fn other_source(session: &mut Session) -> Result<String, String> {
    Ok(other_event(session)?["source"].as_str().unwrap_or_default().to_string())
}

fn other_id(session: &mut Session) -> Result<String, String> {
    Ok(other_event(session)?["id"].as_str().unwrap_or_default().to_string())
}

fn last_dispute(session: &mut Session) -> Result<String, String> {
    session.last_printed("D-")
}

fn last_payment(session: &mut Session) -> Result<String, String> {
    session.last_printed("P-")
}

/// The lines of acme-llama/2026-10 the docs' own disputes do not name.
const DISPUTED_BY_THE_DOCS: [(&str, &str); 2] = [
    ("llama-3.1-8b-instruct", "customer_service"),
    ("llama-3.3-70b-instruct", "customer_service"),
];

/// A new dispute of a line of acme-llama/2026-10 opened by meta (each on a line
/// of its own: a line has one unfinished dispute at most): its id.
fn open_dispute(session: &mut Session) -> Result<String, String> {
    let statement = session.revshare_json(&["statement", "show", "acme-llama/2026-10", "--format", "json"])?;
    let lines: Vec<(String, String)> = statement["lines"]
        .as_array()
        .ok_or_else(|| format!("a statement without lines: {statement}"))?
        .iter()
        .map(|l| {
            (
                l["model"].as_str().unwrap_or_default().to_string(),
                l["use_case"].as_str().unwrap_or_default().to_string(),
            )
        })
        .filter(|(m, u)| !DISPUTED_BY_THE_DOCS.contains(&(m.as_str(), u.as_str())))
        .collect();
    let used = session.disputes_opened;
    let (model, use_case) = lines
        .get(used)
        .ok_or("acme-llama/2026-10 has no line left to dispute")?
        .clone();
    session.disputes_opened += 1;
    let out = session.revshare(&[
        "dispute",
        "open",
        "acme-llama/2026-10",
        "--as",
        "meta",
        "--amount",
        "12.50",
        "--reason",
        "opened by the docs test",
        "--line",
        &model,
        &use_case,
    ])?;
    let at = out
        .find("D-")
        .ok_or_else(|| format!("dispute open printed no id: {out}"))?;
    Ok(out[at..at + 14].to_string())
}

/// A dispute with an offer (what its opener accepts).
fn offered_dispute(session: &mut Session) -> Result<String, String> {
    let id = open_dispute(session)?;
    session.revshare(&["dispute", "resolve", &id, "--as", "acme-cloud", "--amount", "1.00"])?;
    Ok(id)
}

/// A dispute rejected and escalated (what the operator decides).
fn escalated_dispute(session: &mut Session) -> Result<String, String> {
    let id = open_dispute(session)?;
    session.revshare(&["dispute", "reject", &id, "--as", "acme-cloud", "--note", "docs test"])?;
    session.revshare(&["dispute", "escalate", &id, "--as", "meta"])?;
    Ok(id)
}

/// The id of the token the last `token create` printed (`rs_<id>_<secret>`).
fn last_token(session: &mut Session) -> Result<String, String> {
    session
        .outputs
        .iter()
        .rev()
        .find_map(|o| {
            let token = o.trim();
            (token.starts_with("rs_") && token.len() > 15).then(|| token[3..15].to_string())
        })
        .ok_or_else(|| "no command printed a token yet".to_string())
}

/// The expiry day the docs name (`--expires 2027-01-01`) while it is ahead; once
/// it has passed, the first of January after today (a token cannot be created
/// expired).
fn expiry_day(_: &mut Session) -> Result<String, String> {
    let today = time::OffsetDateTime::now_utc().date();
    Ok(if today.year() < 2027 {
        "2027-01-01".into()
    } else {
        format!("{}-01-01", today.year() + 1)
    })
}

/// The size of the log's newest checkpoint.
fn log_size(session: &mut Session) -> Result<String, String> {
    let note = session.revshare(&["audit", "checkpoint"])?;
    note.lines()
        .nth(1)
        .map(str::to_string)
        .ok_or_else(|| format!("not a checkpoint: {note}"))
}

fn job_id(session: &mut Session) -> Result<String, String> {
    session.last_member("id")
}

// ---------------------------------------------------------------------------
// README.md, on the demo store.

fn readme_chain(session: &mut Session) -> Result<String, String> {
    let chain = session.revshare(&["audit", "chain", "--format", "json"])?;
    write(&session.cwd, "chain.json", chain);
    Ok("chain.json".into())
}

/// The newest checkpoint, in a file.
fn readme_checkpoint(session: &mut Session) -> Result<String, String> {
    let note = session.revshare(&["audit", "checkpoint"])?;
    write(&session.cwd, "checkpoint.txt", note);
    Ok("checkpoint.txt".into())
}

/// The consistency proof from the kept checkpoint to the newest.
fn readme_consistency(session: &mut Session) -> Result<String, String> {
    let before = std::fs::read_to_string(session.cwd.join("checkpoint-before.txt")).map_err(|e| e.to_string())?;
    let from = before.lines().nth(1).unwrap_or("1").to_string();
    let to = log_size(session)?;
    let proof = session.revshare(&["audit", "consistency", &from, &to])?;
    write(&session.cwd, "consistency.json", proof);
    Ok("consistency.json".into())
}

/// The consistency proof from the statement's `audit_head` to the newest
/// checkpoint (what `verify --statement … --checkpoint` checks).
fn readme_statement_consistency(session: &mut Session) -> Result<String, String> {
    let statement = session.revshare_json(&["statement", "show", "acme-llama/2026-10", "--format", "json"])?;
    let from = statement["audit_head"]["seq"]
        .as_u64()
        .ok_or_else(|| format!("a statement without audit_head.seq: {}", statement["audit_head"]))?;
    let to = log_size(session)?;
    let proof = session.revshare(&["audit", "consistency", &from.to_string(), &to])?;
    write(&session.cwd, "statement-consistency.json", proof);
    Ok("statement-consistency.json".into())
}

/// The address of the test's `serve`.
fn readme_url(session: &mut Session) -> Result<String, String> {
    session.url.clone().ok_or_else(|| "no server".to_string())
}

/// A file holding a new licensor token of meta (the witness's).
fn readme_witness_token(session: &mut Session) -> Result<String, String> {
    let token = session.revshare(&["token", "create", "--party", "meta", "--role", "licensor"])?;
    write(&session.cwd, "witness.token", token.trim());
    Ok("witness.token".into())
}

fn readme_leaves(session: &mut Session) -> Result<String, String> {
    let leaves = session.revshare(&["statement", "leaves", "acme-llama/2026-10"])?;
    write(&session.cwd, "leaves.json", leaves);
    Ok("leaves.json".into())
}

fn newest_contribution(session: &mut Session) -> Result<String, String> {
    let list = session.revshare_json(&["contribution", "list", "--format", "json"])?;
    list.as_array()
        .and_then(|a| a.iter().rev().find(|c| c["status"] == "proposed"))
        .and_then(|c| c.get("number").or_else(|| c.get("id")))
        .map(|n| n.as_u64().map(|n| n.to_string()).unwrap_or(n.to_string()))
        .ok_or_else(|| format!("no proposed contribution: {list}"))
}

const README: Table = Table {
    substrings: &[],
    words: &[
        within("dispute accept", "D-…", Fill::Dynamic(offered_dispute)),
        within("dispute decide", "D-…", Fill::Dynamic(escalated_dispute)),
        word("D-…", Fill::Dynamic(last_dispute)),
        word("P-…", Fill::Dynamic(last_payment)),
        after("--report", "FILE", Fill::Text("import-report.ndjson")),
        after("accept", "1", Fill::Dynamic(newest_contribution)),
        after("--contract", "ID", Fill::Text("acme-llama")),
        after("--contract", "C", Fill::Text("acme-llama")),
        after("--party", "P", Fill::Text("meta")),
        after("--party", "ID", Fill::Text("acme-cloud")),
        after("--currency", "X", Fill::Text("USD")),
        after("--as-of", "D", Fill::Text("2026-12-31")),
        after("--host", "H", Fill::Text("acme-cloud")),
        after("--reason", "TEXT", Fill::Text("docs-test")),
        after("--note", "TEXT", Fill::Text("docs-test")),
        after("--amount", "A", Fill::Text("2.00")),
        after("--reference", "R", Fill::Text("wire-42")),
        after("--line", "MODEL", Fill::Text("llama-3.1-8b-instruct")),
        after("MODEL", "USE_CASE", Fill::Text("customer_service")),
        within("revshare void", "SOURCE", Fill::Dynamic(other_source)),
        within("revshare void", "ID", Fill::Dynamic(other_id)),
        word("SOURCE", Fill::Dynamic(demo_source)),
        after("SOURCE", "ID", Fill::Dynamic(demo_id)),
        after("show", "ID", Fill::Text("acme-llama/2026-10")),
        after("inputs", "ID", Fill::Text("acme-llama/2026-10")),
        after("--beneficiary", "B", Fill::Text("finetune-labs")),
        after("--out", "DIR", Fill::Text("inputs")),
        after("--inputs", "DIR", Fill::Text("inputs")),
        after("--since-seq", "N", Fill::Text("1")),
        after("--size", "N", Fill::Dynamic(log_size)),
        after("consistency", "M", Fill::Text("1")),
        after("M", "N", Fill::Dynamic(log_size)),
        after("inclusion", "SEQ", Fill::Text("1")),
        after("--to", "N", Fill::Dynamic(log_size)),
        after(
            "--statement",
            "S.json",
            Fill::Text("revshare-demo/acme-llama-2026-10.json"),
        ),
        after(
            "--statement",
            "s.json",
            Fill::Text("revshare-demo/acme-llama-2026-10.json"),
        ),
        after(
            "--statement",
            "A.json",
            Fill::Text("revshare-demo/acme-llama-2026-10.json"),
        ),
        after(
            "--statement",
            "B.json",
            Fill::Text("revshare-demo/acme-llama-2026-09.json"),
        ),
        after("--public-key", "K.json", Fill::Text("revshare-demo/public-key.json")),
        after("--public-key", "k.json", Fill::Text("revshare-demo/public-key.json")),
        after("--event", "E.json", Fill::Text("revshare-demo/event.json")),
        after("--proof", "P.json", Fill::Text("revshare-demo/proof.json")),
        after("--audit-chain", "C.json", Fill::Dynamic(readme_chain)),
        within("--checkpoint A.txt", "A.txt", Fill::Text("checkpoint-before.txt")),
        after("--checkpoint", "B.txt", Fill::Dynamic(readme_checkpoint)),
        after("--checkpoint", "C.txt", Fill::Dynamic(readme_checkpoint)),
        within("--checkpoint A.txt", "P.json", Fill::Dynamic(readme_consistency)),
        after("--consistency", "P.json", Fill::Dynamic(readme_statement_consistency)),
        after("--url", "URL", Fill::Dynamic(readme_url)),
        after("--token-file", "F", Fill::Dynamic(readme_witness_token)),
        after("--state", "DIR", Fill::Text("witness-state")),
        after("--leaves", "L.json", Fill::Dynamic(readme_leaves)),
        after("--leaves", "l.json", Fill::Dynamic(readme_leaves)),
        after(
            "--usage",
            "mine.ndjson",
            Fill::Text("revshare-demo/usage-sep-oct.ndjson"),
        ),
        after("add", "ID", Fill::Text("docs-party")),
        after("--name", "N", Fill::Text("Docs-Party")),
        after("revoke", "TOKEN_ID", Fill::Dynamic(last_token)),
        after("--expires", "2027-01-01", Fill::Dynamic(expiry_day)),
    ],
    dropped: &["--witness-key", "--witnesses", "--every"],
    before: &[],
};

#[test]
fn every_command_of_the_readme_runs_as_shown() {
    if !tools_present() {
        return;
    }
    let store = demo_store("docs-readme");
    let dir = store.dir.clone();
    write(&dir, "registry.csv", "pattern,licensor\nllama-*,meta\n");
    let before = common::ok(&dir, &["--db", "revshare.db", "audit", "checkpoint"]);
    write(&dir, "checkpoint-before.txt", before);
    let serve = common::Serve::start(&store, &[]);
    let address = serve.address.to_string();
    let mut session = Session::new("README.md", &dir, 100);
    session.url = Some(format!("http://{address}"));
    let substrings: &'static [(&'static str, Fill)] = Box::leak(Box::new([
        (
            "127.0.0.1:8080",
            Fill::Text(Box::leak(address.clone().into_boxed_str())),
        ),
        (
            "fixtures/spec-examples/edge",
            Fill::Text(Box::leak(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../fixtures/spec-examples/edge")
                    .display()
                    .to_string()
                    .into_boxed_str(),
            )),
        ),
    ]));
    let table = Table { substrings, ..README };
    session.run_doc(&read("README.md"), &table);
    drop(serve);
    session.cwd = dir;
    every_list_and_show_takes_format(&mut session);
    report(&session);
}

/// README: "Every list and show command takes `--format table|json|csv` […], and
/// so does `close`": each list and show the README names (on a line or in its
/// comment), the demo's dispute, and a dry-run close, in each format.
fn every_list_and_show_takes_format(session: &mut Session) {
    let mut commands: Vec<String> = session
        .run_log
        .iter()
        .filter(|run| {
            let words: Vec<&str> = run.split_whitespace().collect();
            words.first() == Some(&"revshare")
                && matches!(words.get(2), Some(&"list" | &"show"))
                && !run.contains("--format")
        })
        .cloned()
        .collect();
    let named: Vec<String> = [
        "revshare contract list",
        "revshare contract show acme-llama",
        "revshare contribution list",
        "revshare dispute list",
        "revshare payment list",
        "revshare party list",
        "revshare statement show acme-llama/2026-10",
        "revshare close 2026-10 --dry-run",
    ]
    .into_iter()
    .map(str::to_string)
    .filter(|c| !commands.contains(c))
    .collect();
    commands.extend(named);
    let dispute = session.last_printed("D-").unwrap_or_default();
    commands.push(format!("revshare dispute show {dispute}"));
    for command in commands {
        for format in ["table", "json", "csv"] {
            let run = format!("{command} --format {format}");
            let ran = session.shell(&run);
            session.ran += 1;
            if ran.code != Some(0) {
                session.failures.push(format!(
                    "README.md: \"Every list and show command […] takes `--format table|json|csv`\": `{run}` exit {:?}: {}",
                    ran.code,
                    ran.stderr.trim()
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// docs/operations.md: its own story, from `revshare init`, on the fixtures.

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh PostgreSQL database for the runbook's PostgreSQL part, dropped on drop;
/// `None` outside CI when PostgreSQL is unreachable (those commands are skipped).
struct Database(String);

impl Database {
    fn create() -> Option<Database> {
        let mut admin = match postgres::Client::connect(PG_ADMIN, postgres::NoTls) {
            Ok(admin) => admin,
            Err(error) if std::env::var_os("CI").is_some() => panic!("PostgreSQL is unreachable in CI: {error}"),
            Err(error) => {
                eprintln!("skipping the runbook's PostgreSQL commands outside CI: {error}");
                return None;
            }
        };
        let name = format!("revshare_test_docs_{}", std::process::id());
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        Some(Database(name))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(PG_ADMIN, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0));
        }
    }
}

/// The files the runbook's commands name, made from the spec's fixtures.
fn runbook_files(dir: &Path) {
    for contract in ["acme-llama", "nimbus-llama", "orbit-llama"] {
        write(
            dir,
            &format!("contracts/{contract}.toml"),
            read(&format!("fixtures/spec-examples/contracts/{contract}.toml")),
        );
    }
    write(dir, "fx.csv", read("fixtures/spec-examples/fx.csv"));
    // `usage-small.ndjson` split by the events' month.
    let usage = read("fixtures/spec-examples/usage-small.ndjson");
    let (mut september, mut october) = (String::new(), String::new());
    let mut events: Vec<Value> = Vec::new();
    for line in usage.lines() {
        let month = serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|e| {
                events.push(e.clone());
                e["time"].as_str().map(|t| t[..7].to_string())
            })
            .unwrap_or_default();
        let into = if month == "2026-09" {
            &mut september
        } else {
            &mut october
        };
        into.push_str(line);
        into.push('\n');
    }
    write(dir, "usage-2026-09.ndjson", september);
    write(dir, "usage-2026-10.ndjson", october);
    let acme_september = events
        .iter()
        .find(|e| e["data"]["host"] == "acme-cloud" && e["time"].as_str().is_some_and(|t| t.starts_with("2026-09")))
        .expect("an acme-cloud September event")
        .clone();
    let mut bad = acme_september.clone();
    bad["id"] = "bad-1".into();
    bad["data"]["revenue"] = "-1".into();
    write(dir, "bad.ndjson", format!("{bad}\n"));
    let mut late = acme_september.clone();
    late["id"] = "late-2026-09-1".into();
    write(dir, "late-2026-09.ndjson", format!("{late}\n"));
    let mut corrected = events
        .iter()
        .find(|e| e["id"] == "e1-0000000062")
        .expect("the runbook's mistyped event")
        .clone();
    corrected["id"] = "e1-0000000062-fix".into();
    corrected["data"]["revenue"] = "287.83".into();
    write(dir, "corrected-2026-09.ndjson", format!("{corrected}\n"));
    write(
        dir,
        "fx-2026-09-late.csv",
        "date,from,to,rate\n2026-09-26,EUR,USD,1.085000\n",
    );
    write(dir, "models.csv", "pattern,licensor\nllama-*,meta\n");
    let v2 = read("fixtures/spec-examples/contracts/acme-llama.toml")
        .replace("version = 1", "version = 2")
        .replace("effective_from = \"2026-01-01\"", "effective_from = \"2026-10-01\"");
    write(dir, "acme-llama-v2.toml", v2);
    std::fs::create_dir_all(dir.join("backup")).unwrap();
    std::fs::create_dir_all(dir.join("rs-runbook")).unwrap();
    // Another store, whose key file the runbook shows refused.
    std::fs::create_dir_all(dir.join("other")).unwrap();
    common::ok(dir, &["--db", "other/revshare.db", "init"]);
}

/// The key the parties received before the rotation (what signed the SQLite
/// store's statements).
fn runbook_sqlite_key(session: &mut Session) -> Result<String, String> {
    std::fs::copy(
        session.cwd.join("out/public-key.json"),
        session.cwd.join("sqlite-public-key.json"),
    )
    .map_err(|e| format!("out/public-key.json: {e}"))?;
    Ok("sqlite-public-key.json".into())
}

fn runbook_postgres_key(session: &mut Session) -> Result<String, String> {
    let key = session.revshare(&["key", "export-public"])?;
    write(&session.cwd, "postgres-public-key.json", key);
    Ok("postgres-public-key.json".into())
}

/// The SQLite store's statement, as sent to the parties.
fn runbook_statement(session: &mut Session) -> Result<String, String> {
    std::fs::copy(
        session.cwd.join("out/2026-10/acme-llama-2026-10.json"),
        session.cwd.join("acme-llama-2026-10.json"),
    )
    .map_err(|e| format!("out/2026-10/acme-llama-2026-10.json: {e}"))?;
    Ok("acme-llama-2026-10.json".into())
}

fn runbook_database(session: &mut Session) -> Result<String, String> {
    session
        .database
        .clone()
        .ok_or_else(|| "no PostgreSQL database".to_string())
}

fn runbook_url(session: &mut Session) -> Result<String, String> {
    Ok(format!("postgres://postgres@127.0.0.1/{}", runbook_database(session)?))
}

/// The PostgreSQL store's key file: the rotated one once the runbook rotated it.
fn runbook_pg_key(session: &mut Session) -> Result<String, String> {
    Ok(if session.cwd.join("rs-runbook/pg-rotated.key").exists() {
        "rs-runbook/pg-rotated.key".into()
    } else {
        "rs-runbook/pg.key".into()
    })
}

/// "Restoring a backup": the SQLite store is backed up (its file and `-wal`),
/// written to once more, and the backup put back, so that the checkpoint beside
/// the key file signs more entries than the restored log holds.
fn runbook_restore_backup(session: &mut Session) -> Result<String, String> {
    // The runbook's PostgreSQL section exported its URL: this section is about the
    // embedded store.
    session.vars.remove("REVSHARE_DATABASE_URL");
    session.vars.remove("REVSHARE_KEY_FILE");
    let files = ["revshare.db", "revshare.db-wal"];
    let copy = |from: &Path, to: &Path| -> Result<(), String> {
        for file in files {
            let _ = std::fs::remove_file(to.join(file));
            if from.join(file).exists() {
                std::fs::copy(from.join(file), to.join(file)).map_err(|e| format!("{file}: {e}"))?;
            }
        }
        Ok(())
    };
    let cwd = session.cwd.clone();
    let backup = cwd.join("backup");
    copy(&cwd, &backup)?;
    session.restored_size = Some(log_size(session)?);
    session.revshare(&["party", "add", "after-the-backup"])?;
    let _ = std::fs::remove_file(cwd.join("revshare.db-shm"));
    copy(&backup, &cwd)?;
    // An event not stored yet (a duplicate writes nothing, so nothing is refused).
    let late = std::fs::read_to_string(cwd.join("late-2026-09.ndjson")).map_err(|e| e.to_string())?;
    write(
        &cwd,
        "late.ndjson",
        late.replace("late-2026-09-1", "late-after-restore-1"),
    );
    Ok(String::new())
}

fn runbook_restored_size(session: &mut Session) -> Result<String, String> {
    session
        .restored_size
        .clone()
        .ok_or_else(|| "no backup restored".to_string())
}

const RUNBOOK: Table = Table {
    substrings: &[
        ("rs_runbook_pg", Fill::Dynamic(runbook_database)),
        ("/tmp/rs-runbook/pg.key", Fill::Dynamic(runbook_pg_key)),
        ("/tmp/rs-ops/revshare.db.key", Fill::Text("other/revshare.db.key")),
        ("/somewhere/else", Fill::Text("elsewhere.key")),
        ("/secure/backup/", Fill::Text("backup/")),
    ],
    words: &[
        after("--database-url", "URL", Fill::Dynamic(runbook_url)),
        after("--key-file", "old.key", Fill::Text("rs-runbook/pg.key")),
        after("--new-key-file", "new.key", Fill::Text("rs-runbook/pg-rotated.key")),
        word("sqlite-public-key.json", Fill::Dynamic(runbook_sqlite_key)),
        word("postgres-public-key.json", Fill::Dynamic(runbook_postgres_key)),
        after(
            "--statement",
            "acme-llama-2026-10.json",
            Fill::Dynamic(runbook_statement),
        ),
        after("--to", "35", Fill::Dynamic(runbook_restored_size)),
    ],
    dropped: &[],
    before: &[("revshare import late.ndjson", runbook_restore_backup)],
};

#[test]
fn every_command_of_the_runbook_runs_as_shown() {
    if !tools_present() {
        return;
    }
    let dir = common::dir("docs-runbook");
    runbook_files(&dir.0);
    let database = Database::create();
    let mut session = Session::new("docs/operations.md", &dir.0, 80);
    match &database {
        Some(database) => {
            session.database = Some(database.0.clone());
        }
        None => session.postgres = false,
    }
    session.run_doc(&read("docs/operations.md"), &RUNBOOK);
    report(&session);
}

// ---------------------------------------------------------------------------
// docs/api.md, on the demo store with `revshare serve`.

/// The demo's event as a host holds it (`source=…&id=…`, evidence, `event.json`).
fn api_event_query(session: &mut Session) -> Result<String, String> {
    Ok(format!("source={}&id={}", demo_source(session)?, demo_id(session)?))
}

fn api_evidence(session: &mut Session) -> Result<String, String> {
    Ok(serde_json::json!({"source": demo_source(session)?, "id": demo_id(session)?}).to_string())
}

fn api_escalated_decide(session: &mut Session) -> Result<String, String> {
    Ok(format!("{}/decide", escalated_dispute(session)?))
}

fn api_consistency(session: &mut Session) -> Result<String, String> {
    Ok(format!("from=1&to={}", log_size(session)?))
}

/// The witness key of meta the test makes (fixed bytes: the same each run).
fn witness_signer() -> revshare_core::checkpoint::WitnessSigner {
    revshare_core::checkpoint::WitnessSigner::new("meta", ed25519_dalek::SigningKey::from_bytes(&[7; 32]))
}

/// The registration body of the test's witness key.
fn api_witness_registration(session: &mut Session) -> Result<String, String> {
    let note = session.revshare(&["audit", "checkpoint"])?;
    let origin = note.lines().next().unwrap_or_default().to_string();
    let signer = witness_signer();
    Ok(serde_json::json!({
        "key": signer.key().vkey(),
        "signature": signer.sign_registration("meta", &origin),
    })
    .to_string())
}

/// The newest checkpoint with the test's witness's cosignature line.
fn api_cosigned(session: &mut Session) -> Result<String, String> {
    let note = session.revshare(&["audit", "checkpoint"])?;
    let key: revshare_core::verify::PublicKey =
        serde_json::from_str(&session.revshare(&["key", "export-public"])?).map_err(|e| e.to_string())?;
    let opened = revshare_core::checkpoint::open_with(note.as_bytes(), &[key]).map_err(|e| e.to_string())?;
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let line = witness_signer().cosign(opened.signed.checkpoint(), time);
    write(&session.cwd, "cosigned.txt", format!("{note}{line}"));
    Ok("@cosigned.txt".into())
}

const API: Table = Table {
    substrings: &[
        ("source=acme-cloud/us&id=e1-0000000000", Fill::Dynamic(api_event_query)),
        (
            r#"{"source":"acme-cloud/us","id":"e1-0000000000"}"#,
            Fill::Dynamic(api_evidence),
        ),
        ("D-3f9a0c41b2e7/decide", Fill::Dynamic(api_escalated_decide)),
        ("D-3f9a0c41b2e7", Fill::Dynamic(last_dispute)),
        ("P-0123456789ab", Fill::Dynamic(last_payment)),
        ("JOB_ID", Fill::Dynamic(job_id)),
        ("from=120&to=4711", Fill::Dynamic(api_consistency)),
        (
            r#"{"key":"revshare-witness/meta+1a2b3c4d+BASE64","signature":"BASE64"}"#,
            Fill::Dynamic(api_witness_registration),
        ),
        ("@cosigned.txt", Fill::Dynamic(api_cosigned)),
    ],
    words: &[
        after("revoke", "3f9c0a1b2c4d", Fill::Dynamic(last_token)),
        after("--expires", "2027-01-01", Fill::Dynamic(expiry_day)),
    ],
    dropped: &[],
    before: &[],
};

#[test]
fn every_command_and_curl_example_of_the_api_doc_runs_as_shown() {
    if !tools_present() {
        return;
    }
    let store = demo_store("docs-api");
    let dir = store.dir.clone();
    std::fs::copy(dir.join("revshare-demo/event.json"), dir.join("event.json")).unwrap();
    store.run(&["party", "add", "ops"]);
    store.run(&["party", "add", "docs-auditor"]);
    let mut session = Session::new("docs/api.md", &dir, 100);
    for (var, party, role, extra) in [
        ("OPERATOR_TOKEN", "ops", "operator", None),
        ("HOST_TOKEN", "acme-cloud", "host", None),
        ("LICENSOR_TOKEN", "meta", "licensor", None),
        ("BENEFICIARY_TOKEN", "finetune-labs", "beneficiary", None),
        ("AUDITOR_TOKEN", "docs-auditor", "auditor", Some("acme-llama")),
    ] {
        let mut args = vec!["token", "create", "--party", party, "--role", role];
        if let Some(contract) = extra {
            args.extend(["--contract", contract]);
        }
        let token = store.run(&args).trim().to_string();
        session.vars.insert(var.into(), token);
    }
    let serve = common::Serve::start(&store, &[]);
    let address: &'static str = Box::leak(serve.address.to_string().into_boxed_str());
    let mut substrings = vec![("127.0.0.1:8080", Fill::Text(address))];
    substrings.extend_from_slice(API.substrings);
    let table = Table {
        substrings: Box::leak(substrings.into_boxed_slice()),
        ..API
    };
    session.run_doc(&read("docs/api.md"), &table);
    drop(serve);
    report(&session);
}
