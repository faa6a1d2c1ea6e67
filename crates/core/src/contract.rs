//! Contracts (spec: contracts.md): the TOML format, every validation rule, versions.
//!
//! A contract is parsed into a TOML tree that keeps the byte span of every key and value,
//! deserialized from it into raw serde structs that refuse unknown keys, then checked
//! rule by rule into a [`Contract`] whose invariants the rating code relies on. Every
//! error names the field path as written (`rates[1].revenue_share`) and, through the
//! tree's spans, the line it is on.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::de::{DeTable, DeValue, Deserializer};
use toml::Spanned;

use crate::event::is_currency_code;
use crate::money::{Decimal, RoundingMode};
use crate::period::{Cadence, Day};

/// Decimal places the spec allows for rates, deltas, multipliers and token prices.
pub const RATE_SCALE_MAX: u32 = 6;
/// The largest `rounding.scale`; amounts beyond a trillionth of a unit make no sense.
pub const ROUNDING_SCALE_MAX: u32 = 12;
/// Integer digits of an amount, tier bound or token price (as for revenue).
pub const AMOUNT_INT_DIGITS_MAX: u32 = 15;
/// Decimal places of a split share.
pub const SHARE_SCALE_MAX: u32 = 12;
const LIST_LEN_MAX: usize = 1_000;
const DAYS_MAX: i64 = 36_500;

/// A contract that failed to load: which file, which field and where it is, which rule.
///
/// Displayed as `FILE: FIELD, line N: RULE` (`, line N, column C` for TOML syntax errors;
/// no position where the field is not in the file, e.g. a required key left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractError {
    pub file: String,
    /// The field path as in the file: `rates[1].revenue_share`, 0-based indices.
    pub field: String,
    /// 1-based line of the field in the file.
    pub line: Option<usize>,
    /// 1-based column (in characters), given for TOML syntax errors.
    pub column: Option<usize>,
    pub rule: String,
}

impl ContractError {
    /// An error about a field without a position in the file.
    pub fn new(file: &str, field: &str, rule: impl Into<String>) -> ContractError {
        ContractError {
            file: file.to_string(),
            field: field.to_string(),
            line: None,
            column: None,
            rule: rule.into(),
        }
    }
}

impl std::fmt::Display for ContractError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.field)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(column) = self.column {
            write!(f, ", column {column}")?;
        }
        write!(f, ": {}", self.rule)
    }
}

impl std::error::Error for ContractError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Host,
    Licensor,
}

impl Party {
    pub fn parse(text: &str) -> Option<Party> {
        match text {
            "host" => Some(Party::Host),
            "licensor" => Some(Party::Licensor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Party::Host => "host",
            Party::Licensor => "licensor",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContributionKind {
    Maintenance,
    Update,
    Improvement,
}

impl ContributionKind {
    pub fn parse(text: &str) -> Option<ContributionKind> {
        match text {
            "maintenance" => Some(ContributionKind::Maintenance),
            "update" => Some(ContributionKind::Update),
            "improvement" => Some(ContributionKind::Improvement),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContributionKind::Maintenance => "maintenance",
            ContributionKind::Update => "update",
            ContributionKind::Improvement => "improvement",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    TotalTokens,
    Revenue,
    Requests,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::TotalTokens => "total_tokens",
            Metric::Revenue => "revenue",
            Metric::Requests => "requests",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierMode {
    Graduated,
    Volume,
}

/// A `*` glob: `*` matches any run of characters, everything else matches itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob(pattern.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, text: &str) -> bool {
        glob_match(self.0.as_bytes(), text.as_bytes())
    }
}

fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    // Greedy with backtracking to the last star: linear for patterns with one star,
    // and correct for several.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rounding {
    pub scale: u32,
    pub mode: RoundingMode,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateRule {
    /// A use case, or `*` for any other permitted use case.
    pub use_case: String,
    pub revenue_share: Decimal,
    pub input_per_million: Decimal,
    pub output_per_million: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tier {
    /// `None` on the last tier only.
    pub up_to: Option<Decimal>,
    pub multiplier: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeTiers {
    pub metric: Metric,
    pub mode: TierMode,
    pub tiers: Vec<Tier>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusivity {
    pub use_case: String,
    pub holder: Party,
    pub from: Day,
    pub to: Day,
    pub share_delta: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContributionCredit {
    pub by: Party,
    pub kind: ContributionKind,
    pub share_delta: Decimal,
    pub max_abs: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitRule {
    pub models: Vec<Glob>,
    /// Beneficiary id → share; ordered by id, which is also the tie-break order.
    pub shares: BTreeMap<String, Decimal>,
}

/// One validated version of a contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contract {
    pub id: String,
    pub version: u32,
    pub licensor: String,
    pub host: String,
    pub currency: String,
    pub effective_from: Day,
    pub effective_to: Option<Day>,
    pub cadence: Cadence,
    pub payment_terms_days: u32,
    pub dispute_window_days: u32,
    pub models: Vec<Glob>,
    pub prohibited_use_cases: Vec<String>,
    pub mau_threshold: Option<u64>,
    pub rounding: Rounding,
    pub rates: Vec<RateRule>,
    pub volume_tiers: Option<VolumeTiers>,
    pub exclusivity: Vec<Exclusivity>,
    pub contribution_credits: Vec<ContributionCredit>,
    pub minimum_guarantee: Option<Decimal>,
    pub cap: Option<Decimal>,
    /// Never empty: without `[[splits]]` in the file, one `*` rule gives the licensor all.
    pub splits: Vec<SplitRule>,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

impl Contract {
    /// Loads and validates one contract file. `file` names it in errors.
    pub fn from_toml(file: &str, bytes: &[u8]) -> Result<Contract, ContractError> {
        let text = utf8(file, bytes)?;
        let source = Source::parse(file, text)?;
        let raw = source.deserialize(file)?;
        let mut contract = Checker { file, source: &source }.contract(raw)?;
        contract.sha256 = hex::encode(Sha256::digest(bytes));
        Ok(contract)
    }

    /// The rule for a use case: its own, else `*`.
    pub fn rate_for(&self, use_case: &str) -> Option<&RateRule> {
        self.rates
            .iter()
            .find(|r| r.use_case == use_case)
            .or_else(|| self.rates.iter().find(|r| r.use_case == "*"))
    }

    pub fn licenses_model(&self, model: &str) -> bool {
        self.models.iter().any(|g| g.matches(model))
    }

    pub fn split_for(&self, model: &str) -> &SplitRule {
        self.splits
            .iter()
            .find(|rule| rule.models.iter().any(|g| g.matches(model)))
            .expect("validation guarantees a last `*` split rule")
    }

    /// The `*` split rule (always the last).
    pub fn catch_all_split(&self) -> &SplitRule {
        self.splits
            .last()
            .expect("validation guarantees at least one split rule")
    }
}

/// The file's text; invalid UTF-8 is reported on the line where it starts.
fn utf8<'b>(file: &str, bytes: &'b [u8]) -> Result<&'b str, ContractError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        ContractError {
            line: Some(line),
            ..ContractError::new(file, "(file)", format!("is not UTF-8: {e}"))
        }
    })
}

/// A contract file's text and TOML tree, which holds the byte span of every key and
/// value: it tells which field a position of an error is in, and on which line a field is.
struct Source<'t> {
    text: &'t str,
    tree: Spanned<DeTable<'t>>,
}

/// One key or array element of the tree, flattened.
struct Node<'a, 't> {
    /// `rates[1].revenue_share`: keys joined by `.`, 0-based array indices.
    path: String,
    /// The last key of the path (`""` for an array element).
    name: &'a str,
    depth: usize,
    key_span: Option<Range<usize>>,
    span: Range<usize>,
    value: &'a DeValue<'t>,
}

impl<'t> Source<'t> {
    /// Parses the TOML; a syntax error names the line, the column and toml's message.
    fn parse(file: &str, text: &'t str) -> Result<Source<'t>, ContractError> {
        let (tree, errors) = DeTable::parse_recoverable(text);
        let source = Source { text, tree };
        match errors.first() {
            Some(error) => Err(source.syntax_error(file, error)),
            None => Ok(source),
        }
    }

    /// The raw contract; TOML type errors, unknown and missing keys name the field.
    fn deserialize(&self, file: &str) -> Result<RawContract, ContractError> {
        RawContract::deserialize(Deserializer::from(self.tree.clone())).map_err(|e| self.serde_error(file, &e))
    }

    /// A validation error: the field's line, or that of the nearest enclosing key in
    /// the file (a required key left out of an inline table is reported on its line).
    fn error(&self, file: &str, field: &str, rule: impl Into<String>) -> ContractError {
        ContractError {
            line: self.offset_of(field).map(|offset| self.line(offset)),
            ..ContractError::new(file, field, rule)
        }
    }

    fn syntax_error(&self, file: &str, error: &toml::de::Error) -> ContractError {
        let span = error.span().unwrap_or(0..0);
        let line = self.line(span.start);
        // The tree is toml's best-effort recovery: trusted only for a key on the line.
        let field = self
            .node_at(&span)
            .filter(|n| self.line(n.key_span.as_ref().unwrap_or(&n.span).start) == line)
            .map_or_else(|| "(toml)".to_string(), |n| n.path);
        let mut rule = format!("TOML syntax error: {}", error.message());
        let quotable = |at: &&str| !at.is_empty() && at.len() <= 40 && !at.contains('\n');
        if let Some(at) = self.text.get(span.clone()).filter(quotable) {
            rule.push_str(&format!(" (at `{at}`)"));
        }
        ContractError {
            line: Some(line),
            column: Some(self.column(span.start)),
            ..ContractError::new(file, &field, rule)
        }
    }

    fn serde_error(&self, file: &str, error: &toml::de::Error) -> ContractError {
        // An empty span stands for the whole document (a top-level key left out).
        let span = error.span().filter(|span| !span.is_empty());
        let node = span.as_ref().and_then(|span| self.node_at(span));
        let message = error.message();
        let (field, rule) = missing_key(node.as_ref(), message)
            .or_else(|| unknown_key(node.as_ref(), message))
            .or_else(|| wrong_type(node.as_ref(), message, self.text))
            .unwrap_or_else(|| {
                (
                    node.as_ref().map_or("(toml)", |n| &n.path).to_string(),
                    message.to_string(),
                )
            });
        ContractError {
            line: span.map(|span| self.line(span.start)),
            ..ContractError::new(file, &field, rule)
        }
    }

    /// Every key and array element of the file, parents first.
    fn nodes(&self) -> Vec<Node<'_, 't>> {
        let mut nodes = Vec::new();
        flatten_table(self.tree.get_ref(), "", 1, &mut nodes);
        nodes
    }

    /// The deepest key or value whose span holds `span`.
    fn node_at(&self, span: &Range<usize>) -> Option<Node<'_, 't>> {
        let holds = |outer: &Range<usize>| outer.start <= span.start && span.end <= outer.end;
        self.nodes()
            .into_iter()
            .filter(|n| holds(&n.span) || n.key_span.as_ref().is_some_and(holds))
            .max_by_key(|n| n.depth)
    }

    /// Where the field `path` starts (its key), else where its nearest parent does.
    fn offset_of(&self, path: &str) -> Option<usize> {
        let nodes = self.nodes();
        let mut path = path;
        loop {
            if let Some(node) = nodes.iter().find(|n| n.path == path) {
                return Some(node.key_span.as_ref().unwrap_or(&node.span).start);
            }
            path = &path[..path.rfind(['.', '['])?];
        }
    }

    /// 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.text.as_bytes()[..offset.min(self.text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// 1-based column, in characters, of a byte offset.
    fn column(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        let start = self.text.as_bytes()[..offset]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        self.text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1
    }
}

fn flatten_table<'a, 't>(table: &'a DeTable<'t>, prefix: &str, depth: usize, nodes: &mut Vec<Node<'a, 't>>) {
    for (key, value) in table.iter() {
        let name: &str = key.get_ref();
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        nodes.push(Node {
            path: path.clone(),
            name,
            depth,
            key_span: Some(key.span()),
            span: value.span(),
            value: value.get_ref(),
        });
        flatten_value(value.get_ref(), &path, depth + 1, nodes);
    }
}

fn flatten_value<'a, 't>(value: &'a DeValue<'t>, path: &str, depth: usize, nodes: &mut Vec<Node<'a, 't>>) {
    match value {
        DeValue::Table(table) => flatten_table(table, path, depth, nodes),
        DeValue::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let path = format!("{path}[{index}]");
                nodes.push(Node {
                    path: path.clone(),
                    name: "",
                    depth,
                    key_span: None,
                    span: item.span(),
                    value: item.get_ref(),
                });
                flatten_value(item.get_ref(), &path, depth + 1, nodes);
            }
        }
        _ => {}
    }
}

/// serde's `missing field `x``: the table's path and line (none at the top level).
fn missing_key(table: Option<&Node>, message: &str) -> Option<(String, String)> {
    let name = message.strip_prefix("missing field `")?.strip_suffix('`')?;
    Some(match table {
        Some(table) => (
            format!("{}.{name}", table.path),
            "required key is missing from the table that starts on this line".to_string(),
        ),
        None => (name.to_string(), "required key is missing".to_string()),
    })
}

/// serde's `unknown field `x`, expected ...`: the key's path, and the known key it is
/// most likely a typo of.
fn unknown_key(key: Option<&Node>, message: &str) -> Option<(String, String)> {
    let key = key?;
    let expected = message.strip_prefix(&format!("unknown field `{}`", key.name))?;
    let known = expected.split('`').skip(1).step_by(2);
    let rule = match closest(key.name, known) {
        Some(known) => format!("unknown key; did you mean \"{known}\"?"),
        None => format!("unknown key; {}", expected.trim_start_matches(", ")),
    };
    Some((key.path.clone(), rule))
}

/// serde's `invalid type: ..., expected ...`: what was expected and what the file has.
fn wrong_type(value: Option<&Node>, message: &str, text: &str) -> Option<(String, String)> {
    let value = value?;
    let (_, expected) = message.strip_prefix("invalid type: ")?.rsplit_once(", expected ")?;
    let expected = match expected {
        "i64" => "an integer",
        "a sequence" => "an array",
        "a map" => "a table",
        table if table.starts_with("struct ") => "a table",
        other => other,
    };
    let found = match value.value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) if expected == "an integer" => {
            let written = text.get(value.span.clone()).unwrap_or_default();
            return Some((
                value.path.clone(),
                format!("expected a 64-bit integer, found {written}"),
            ));
        }
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    };
    Some((value.path.clone(), format!("expected {expected}, found {found}")))
}

/// The known key `name` is most likely a typo of: at most a third of its length in edits.
fn closest<'k>(name: &str, known: impl Iterator<Item = &'k str>) -> Option<&'k str> {
    let len = |s: &str| s.chars().count();
    known
        .filter(|k| len(name).abs_diff(len(k)) * 3 <= len(k))
        .map(|k| (edit_distance(name, k), k))
        .filter(|(distance, k)| distance * 3 <= len(k))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let replace = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = replace.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContract {
    id: String,
    version: i64,
    licensor: String,
    host: String,
    currency: String,
    effective_from: String,
    effective_to: Option<String>,
    period: String,
    payment_terms_days: i64,
    dispute_window_days: i64,
    models: Vec<String>,
    #[serde(default)]
    prohibited_use_cases: Vec<String>,
    mau_threshold: Option<i64>,
    rounding: RawRounding,
    rates: Vec<RawRate>,
    volume_tiers: Option<RawTiers>,
    #[serde(default)]
    exclusivity: Vec<RawExclusivity>,
    #[serde(default)]
    contribution_credits: Vec<RawCredit>,
    minimum_guarantee: Option<RawAmount>,
    cap: Option<RawAmount>,
    #[serde(default)]
    splits: Vec<RawSplit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRounding {
    scale: i64,
    mode: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    use_case: String,
    revenue_share: RawDecimal,
    token_fee: Option<RawFee>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFee {
    input_per_million: Option<RawDecimal>,
    output_per_million: Option<RawDecimal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiers {
    metric: String,
    mode: String,
    tiers: Vec<RawTier>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    up_to: Option<RawDecimal>,
    multiplier: RawDecimal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExclusivity {
    use_case: String,
    holder: String,
    from: String,
    to: String,
    share_delta: RawDecimal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredit {
    by: String,
    kind: String,
    share_delta: RawDecimal,
    max_abs: RawDecimal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAmount {
    amount: RawDecimal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSplit {
    models: Vec<String>,
    shares: BTreeMap<String, RawDecimal>,
}

/// An amount or rate as written: a TOML string. Anything else is refused with
/// `expected a string like "0.12"`, since decimals are never binary floats.
struct RawDecimal(String);

impl<'de> Deserialize<'de> for RawDecimal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<RawDecimal, D::Error> {
        deserializer.deserialize_str(RawDecimalVisitor)
    }
}

struct RawDecimalVisitor;

impl serde::de::Visitor<'_> for RawDecimalVisitor {
    type Value = RawDecimal;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string like \"0.12\"")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<RawDecimal, E> {
        Ok(RawDecimal(text.to_string()))
    }
}

/// `[a-z0-9][a-z0-9_-]{0,63}`: contract and party ids.
pub fn is_party_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

/// `[a-z0-9_]{1,64}`: use cases.
pub fn is_use_case(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

struct Checker<'f, 't> {
    file: &'f str,
    source: &'f Source<'t>,
}

type Checked<T> = Result<T, ContractError>;

/// The top-level terms checked first, which the rest of the contract depends on.
struct Terms {
    id: String,
    version: u32,
    licensor: String,
    host: String,
    cadence: Cadence,
    effective_from: Day,
    effective_to: Option<Day>,
}

impl Checker<'_, '_> {
    fn fail<T>(&self, field: &str, rule: impl Into<String>) -> Checked<T> {
        Err(self.source.error(self.file, field, rule))
    }

    fn party(&self, field: &str, value: &str) -> Checked<String> {
        if !is_party_id(value) {
            return self.fail(field, format!("\"{value}\" must match [a-z0-9][a-z0-9_-]{{0,63}}"));
        }
        Ok(value.to_string())
    }

    fn day(&self, field: &str, value: &str) -> Checked<Day> {
        match Day::parse(value) {
            Some(day) => Ok(day),
            None => self.fail(field, format!("\"{value}\" must be a date YYYY-MM-DD")),
        }
    }

    fn days(&self, field: &str, value: i64) -> Checked<u32> {
        if !(0..=DAYS_MAX).contains(&value) {
            return self.fail(
                field,
                format!("{value} must be a whole number of days from 0 to {DAYS_MAX}"),
            );
        }
        Ok(value as u32)
    }

    fn decimal(&self, field: &str, value: &RawDecimal, frac_max: u32) -> Checked<Decimal> {
        Decimal::parse_bounded(&value.0, frac_max, AMOUNT_INT_DIGITS_MAX).or_else(|e| self.fail(field, e.to_string()))
    }

    /// A decimal in `[low, high]`.
    fn bounded(
        &self,
        field: &str,
        value: &RawDecimal,
        frac_max: u32,
        low: &str,
        high: Option<&str>,
    ) -> Checked<Decimal> {
        let d = self.decimal(field, value, frac_max)?;
        let text = &value.0;
        let low_d = Decimal::parse(low, 12).expect("literal");
        if d < low_d {
            return match high {
                Some(high) => self.fail(field, format!("{text} must be in [{low}, {high}]")),
                None => self.fail(field, format!("{text} must be ≥ {low}")),
            };
        }
        if let Some(high) = high {
            if d > Decimal::parse(high, 12).expect("literal") {
                return self.fail(field, format!("{text} must be in [{low}, {high}]"));
            }
        }
        Ok(d)
    }

    fn use_case(&self, field: &str, value: &str, star_allowed: bool) -> Checked<String> {
        if (star_allowed && value == "*") || is_use_case(value) {
            return Ok(value.to_string());
        }
        let rule = if star_allowed {
            format!("\"{value}\" must be `*` or match [a-z0-9_]{{1,64}}")
        } else {
            format!("\"{value}\" must match [a-z0-9_]{{1,64}}")
        };
        self.fail(field, rule)
    }

    fn globs(&self, field: &str, patterns: &[String]) -> Checked<Vec<Glob>> {
        if patterns.is_empty() {
            return self.fail(field, "must list at least one model pattern");
        }
        if patterns.len() > LIST_LEN_MAX {
            return self.fail(field, format!("lists more than {LIST_LEN_MAX} patterns"));
        }
        for (index, pattern) in patterns.iter().enumerate() {
            if pattern.is_empty() || pattern.len() > 256 {
                return self.fail(&format!("{field}[{index}]"), "a model pattern is 1 to 256 characters");
            }
        }
        Ok(patterns.iter().map(|p| Glob::new(p)).collect())
    }

    fn contract(&self, raw: RawContract) -> Checked<Contract> {
        let terms = self.terms(&raw)?;
        let mut prohibited_use_cases = Vec::new();
        for (index, use_case) in raw.prohibited_use_cases.iter().enumerate() {
            prohibited_use_cases.push(self.use_case(&format!("prohibited_use_cases[{index}]"), use_case, false)?);
        }
        let mau_threshold = match raw.mau_threshold {
            Some(n) if n < 1 => return self.fail("mau_threshold", format!("{n} must be ≥ 1")),
            other => other.map(|n| n as u64),
        };
        let rounding = self.rounding(&raw.rounding)?;
        let amount = |field: &str, raw: &Option<RawAmount>| -> Checked<Option<Decimal>> {
            raw.as_ref()
                .map(|a| self.bounded(field, &a.amount, rounding.scale, "0", None))
                .transpose()
        };
        Ok(Contract {
            payment_terms_days: self.days("payment_terms_days", raw.payment_terms_days)?,
            dispute_window_days: self.days("dispute_window_days", raw.dispute_window_days)?,
            models: self.globs("models", &raw.models)?,
            prohibited_use_cases,
            mau_threshold,
            rates: self.rates(&raw.rates)?,
            volume_tiers: raw.volume_tiers.as_ref().map(|t| self.tiers(t)).transpose()?,
            exclusivity: self.exclusivity(&raw.exclusivity)?,
            contribution_credits: self.credits(&raw.contribution_credits)?,
            minimum_guarantee: amount("minimum_guarantee.amount", &raw.minimum_guarantee)?,
            cap: amount("cap.amount", &raw.cap)?,
            splits: self.splits(&raw.splits, &terms.licensor)?,
            rounding,
            id: terms.id,
            version: terms.version,
            licensor: terms.licensor,
            host: terms.host,
            currency: raw.currency,
            effective_from: terms.effective_from,
            effective_to: terms.effective_to,
            cadence: terms.cadence,
            sha256: String::new(),
        })
    }

    /// Id, version, parties, currency, cadence and effective range.
    fn terms(&self, raw: &RawContract) -> Checked<Terms> {
        let id = self.party("id", &raw.id)?;
        if !(1..=i64::from(u32::MAX)).contains(&raw.version) {
            return self.fail("version", format!("{} must be a whole number ≥ 1", raw.version));
        }
        let licensor = self.party("licensor", &raw.licensor)?;
        let host = self.party("host", &raw.host)?;
        if licensor == host {
            return self.fail("host", format!("\"{host}\" must differ from the licensor"));
        }
        if !is_currency_code(&raw.currency) {
            return self.fail(
                "currency",
                format!("\"{}\" must be an ISO 4217 code such as \"USD\"", raw.currency),
            );
        }
        let Some(cadence) = Cadence::parse(&raw.period) else {
            return self.fail("period", format!("\"{}\" must be \"month\" or \"quarter\"", raw.period));
        };
        let (effective_from, effective_to) = self.effective_range(raw, cadence)?;
        Ok(Terms {
            id,
            version: raw.version as u32,
            licensor,
            host,
            cadence,
            effective_from,
            effective_to,
        })
    }

    fn effective_range(&self, raw: &RawContract, cadence: Cadence) -> Checked<(Day, Option<Day>)> {
        let effective_from = self.day("effective_from", &raw.effective_from)?;
        if !cadence.is_period_start(effective_from) {
            return self.fail(
                "effective_from",
                format!("{effective_from} must be the first day of a {}", raw.period),
            );
        }
        let Some(text) = &raw.effective_to else {
            return Ok((effective_from, None));
        };
        let to = self.day("effective_to", text)?;
        if to <= effective_from {
            return self.fail(
                "effective_to",
                format!("{to} must be after effective_from {effective_from}"),
            );
        }
        if !cadence.is_period_start(to) {
            return self.fail(
                "effective_to",
                format!("{to} must be the first day of a {}", raw.period),
            );
        }
        Ok((effective_from, Some(to)))
    }

    fn rounding(&self, raw: &RawRounding) -> Checked<Rounding> {
        if !(0..=i64::from(ROUNDING_SCALE_MAX)).contains(&raw.scale) {
            return self.fail(
                "rounding.scale",
                format!("{} must be from 0 to {ROUNDING_SCALE_MAX}", raw.scale),
            );
        }
        let Some(mode) = RoundingMode::parse(&raw.mode) else {
            return self.fail(
                "rounding.mode",
                format!("\"{}\" must be \"half_even\", \"half_up\" or \"down\"", raw.mode),
            );
        };
        Ok(Rounding {
            scale: raw.scale as u32,
            mode,
        })
    }

    fn exclusivity(&self, raw: &[RawExclusivity]) -> Checked<Vec<Exclusivity>> {
        let mut exclusivity = Vec::new();
        for (index, e) in raw.iter().enumerate() {
            let at = |name: &str| format!("exclusivity[{index}].{name}");
            let Some(holder) = Party::parse(&e.holder) else {
                return self.fail(
                    &at("holder"),
                    format!("\"{}\" must be \"host\" or \"licensor\"", e.holder),
                );
            };
            let from = self.day(&at("from"), &e.from)?;
            let to = self.day(&at("to"), &e.to)?;
            if to <= from {
                return self.fail(&at("to"), format!("{to} must be after from {from}"));
            }
            exclusivity.push(Exclusivity {
                use_case: self.use_case(&at("use_case"), &e.use_case, true)?,
                holder,
                from,
                to,
                share_delta: self.bounded(&at("share_delta"), &e.share_delta, RATE_SCALE_MAX, "-1", Some("1"))?,
            });
        }
        Ok(exclusivity)
    }

    fn credits(&self, raw: &[RawCredit]) -> Checked<Vec<ContributionCredit>> {
        let mut credits = Vec::new();
        for (index, c) in raw.iter().enumerate() {
            let at = |name: &str| format!("contribution_credits[{index}].{name}");
            let Some(by) = Party::parse(&c.by) else {
                return self.fail(&at("by"), format!("\"{}\" must be \"host\" or \"licensor\"", c.by));
            };
            let Some(kind) = ContributionKind::parse(&c.kind) else {
                return self.fail(
                    &at("kind"),
                    format!("\"{}\" must be \"maintenance\", \"update\" or \"improvement\"", c.kind),
                );
            };
            credits.push(ContributionCredit {
                by,
                kind,
                share_delta: self.bounded(&at("share_delta"), &c.share_delta, RATE_SCALE_MAX, "-1", Some("1"))?,
                max_abs: self.bounded(&at("max_abs"), &c.max_abs, RATE_SCALE_MAX, "0", Some("1"))?,
            });
        }
        Ok(credits)
    }

    fn rates(&self, raw: &[RawRate]) -> Checked<Vec<RateRule>> {
        if raw.is_empty() {
            return self.fail("rates", "must have at least one [[rates]] rule");
        }
        let mut seen = BTreeSet::new();
        let mut rates = Vec::new();
        for (index, r) in raw.iter().enumerate() {
            let at = |name: &str| format!("rates[{index}].{name}");
            let use_case = self.use_case(&at("use_case"), &r.use_case, true)?;
            if !seen.insert(use_case.clone()) {
                return self.fail(
                    &at("use_case"),
                    format!("\"{use_case}\" has more than one rule (at most one per use case)"),
                );
            }
            let fee = |name: &str, value: Option<&RawDecimal>| -> Checked<Decimal> {
                match value {
                    None => Ok(Decimal::zero()),
                    Some(v) => self.bounded(&at(&format!("token_fee.{name}")), v, RATE_SCALE_MAX, "0", None),
                }
            };
            let (input, output) = match &r.token_fee {
                None => (Decimal::zero(), Decimal::zero()),
                Some(f) => (
                    fee("input_per_million", f.input_per_million.as_ref())?,
                    fee("output_per_million", f.output_per_million.as_ref())?,
                ),
            };
            rates.push(RateRule {
                use_case,
                revenue_share: self.bounded(&at("revenue_share"), &r.revenue_share, RATE_SCALE_MAX, "0", Some("1"))?,
                input_per_million: input,
                output_per_million: output,
            });
        }
        Ok(rates)
    }

    fn tiers(&self, raw: &RawTiers) -> Checked<VolumeTiers> {
        let metric = match raw.metric.as_str() {
            "total_tokens" => Metric::TotalTokens,
            "revenue" => Metric::Revenue,
            "requests" => Metric::Requests,
            other => {
                return self.fail(
                    "volume_tiers.metric",
                    format!("\"{other}\" must be \"total_tokens\", \"revenue\" or \"requests\""),
                )
            }
        };
        let mode = match raw.mode.as_str() {
            "graduated" => TierMode::Graduated,
            "volume" => TierMode::Volume,
            other => {
                return self.fail(
                    "volume_tiers.mode",
                    format!("\"{other}\" must be \"graduated\" or \"volume\""),
                )
            }
        };
        if raw.tiers.is_empty() {
            return self.fail("volume_tiers.tiers", "must have at least one tier");
        }
        if raw.tiers.len() > LIST_LEN_MAX {
            return self.fail("volume_tiers.tiers", format!("has more than {LIST_LEN_MAX} tiers"));
        }
        Ok(VolumeTiers {
            metric,
            mode,
            tiers: self.tier_list(&raw.tiers)?,
        })
    }

    /// `up_to` strictly increasing on every tier but the last, which has none.
    fn tier_list(&self, raw: &[RawTier]) -> Checked<Vec<Tier>> {
        let last = raw.len() - 1;
        let mut tiers = Vec::new();
        let mut previous = Decimal::zero();
        for (index, t) in raw.iter().enumerate() {
            let at = |name: &str| format!("volume_tiers.tiers[{index}].{name}");
            let multiplier = self.bounded(&at("multiplier"), &t.multiplier, RATE_SCALE_MAX, "0", None)?;
            let up_to = match (&t.up_to, index == last) {
                (Some(_), true) => {
                    return self.fail(&at("up_to"), "the last tier must not have up_to (it is unbounded)")
                }
                (None, false) => return self.fail(&at("up_to"), "every tier but the last must have up_to"),
                (None, true) => None,
                (Some(text), false) => {
                    let bound = self.decimal(&at("up_to"), text, 12)?;
                    if bound <= previous {
                        return self.fail(
                            &at("up_to"),
                            format!("{} must be greater than {previous} (strictly increasing)", text.0),
                        );
                    }
                    previous = bound.clone();
                    Some(bound)
                }
            };
            tiers.push(Tier { up_to, multiplier });
        }
        Ok(tiers)
    }

    fn splits(&self, raw: &[RawSplit], licensor: &str) -> Checked<Vec<SplitRule>> {
        if raw.is_empty() {
            return Ok(vec![SplitRule {
                models: vec![Glob::new("*")],
                shares: BTreeMap::from([(licensor.to_string(), Decimal::one())]),
            }]);
        }
        let mut rules = Vec::new();
        for (index, s) in raw.iter().enumerate() {
            let at = |name: &str| format!("splits[{index}].{name}");
            rules.push(SplitRule {
                models: self.globs(&at("models"), &s.models)?,
                shares: self.shares(&at("shares"), &s.shares)?,
            });
        }
        let last = rules.last().expect("non-empty");
        if !(last.models.len() == 1 && last.models[0].as_str() == "*") {
            return self.fail(
                &format!("splits[{}].models", rules.len() - 1),
                "the last splits rule must have models = [\"*\"]",
            );
        }
        Ok(rules)
    }

    /// One rule's shares: party ids, each in `[0, 1]`, summing to exactly 1.
    fn shares(&self, field: &str, raw: &BTreeMap<String, RawDecimal>) -> Checked<BTreeMap<String, Decimal>> {
        if raw.is_empty() {
            return self.fail(field, "must name at least one beneficiary");
        }
        let mut shares = BTreeMap::new();
        let mut sum = Decimal::zero();
        for (beneficiary, share) in raw {
            let share_field = format!("{field}.{beneficiary}");
            self.party(&share_field, beneficiary)?;
            let share = self.bounded(&share_field, share, SHARE_SCALE_MAX, "0", Some("1"))?;
            sum = sum.add(&share);
            shares.insert(beneficiary.clone(), share);
        }
        if sum != Decimal::one() {
            return self.fail(
                field,
                format!("sum to {}, must sum to exactly 1", sum.to_normalized_string()),
            );
        }
        Ok(shares)
    }
}

/// All versions of all contracts in play, checked against each other.
#[derive(Clone, Debug, Default)]
pub struct ContractSet {
    /// One entry per contract id, versions ascending.
    pub contracts: Vec<ContractVersions>,
}

#[derive(Clone, Debug)]
pub struct ContractVersions {
    pub id: String,
    pub versions: Vec<Contract>,
}

impl ContractVersions {
    /// Where version `index` stops applying: its own `effective_to` or the next
    /// version's `effective_from`, whichever is earlier.
    pub fn end_of(&self, index: usize) -> Option<Day> {
        let own = self.versions[index].effective_to;
        match (own, self.versions.get(index + 1)) {
            (Some(own), Some(next)) => Some(own.min(next.effective_from)),
            (None, Some(next)) => Some(next.effective_from),
            (own, None) => own,
        }
    }

    /// The version in force on `day`, if any.
    pub fn version_on(&self, day: Day) -> Option<&Contract> {
        let index = self.versions.iter().rposition(|v| v.effective_from <= day)?;
        match self.end_of(index) {
            Some(end) if day >= end => None,
            _ => Some(&self.versions[index]),
        }
    }

    pub fn licensor(&self) -> &str {
        &self.versions[0].licensor
    }

    pub fn host(&self) -> &str {
        &self.versions[0].host
    }

    /// Whether any version's splits give `party` a share.
    pub fn names_beneficiary(&self, party: &str) -> bool {
        self.versions
            .iter()
            .any(|v| v.splits.iter().any(|s| s.shares.contains_key(party)))
    }
}

impl ContractSet {
    /// Groups versions by id and checks the rules between versions. Each contract comes
    /// with the name of its file, for errors.
    pub fn new(mut loaded: Vec<(String, Contract)>) -> Result<ContractSet, ContractError> {
        loaded.sort_by(|a, b| (&a.1.id, a.1.version).cmp(&(&b.1.id, b.1.version)));
        let mut contracts: Vec<ContractVersions> = Vec::new();
        // The file of the last version grouped (versions of one id come in a row).
        let mut previous_file = String::new();
        for (file, contract) in loaded {
            match contracts.last_mut() {
                Some(group) if group.id == contract.id => {
                    let previous = group.versions.last().expect("groups are never empty");
                    check_next_version((&previous_file, previous), (&file, &contract))?;
                    group.versions.push(contract);
                }
                _ => contracts.push(ContractVersions {
                    id: contract.id.clone(),
                    versions: vec![contract],
                }),
            }
            previous_file = file;
        }
        Ok(ContractSet { contracts })
    }

    pub fn get(&self, id: &str) -> Option<&ContractVersions> {
        self.contracts.iter().find(|c| c.id == id)
    }
}

/// The rules between version `n` and the next one of the same id, each as (file, contract).
fn check_next_version(previous: (&str, &Contract), next: (&str, &Contract)) -> Result<(), ContractError> {
    let ((previous_file, previous), (file, contract)) = (previous, next);
    let fail = |field: &str, rule: String| Err(ContractError::new(file, field, rule));
    if previous.version == contract.version {
        return fail(
            "version",
            format!("{} {} is also given by {previous_file}", contract.id, contract.version),
        );
    }
    check_kept_terms((previous_file, previous), (file, contract))?;
    if contract.effective_from <= previous.effective_from {
        return fail(
            "effective_from",
            format!(
                "{} must be after version {}'s effective_from {} (a new version takes effect later)",
                contract.effective_from, previous.version, previous.effective_from
            ),
        );
    }
    if !previous.cadence.is_period_start(contract.effective_from) {
        return fail(
            "effective_from",
            format!(
                "{} must also start a period of version {} so that no period is split between versions",
                contract.effective_from, previous.version
            ),
        );
    }
    Ok(())
}

/// Versions of one id keep `licensor`, `host`, `currency` and `rounding.scale`.
fn check_kept_terms(previous: (&str, &Contract), next: (&str, &Contract)) -> Result<(), ContractError> {
    let ((previous_file, previous), (file, contract)) = (previous, next);
    let quoted = |text: &str| format!("\"{text}\"");
    for (field, name, old, new) in [
        (
            "licensor",
            "licensor",
            quoted(&previous.licensor),
            quoted(&contract.licensor),
        ),
        ("host", "host", quoted(&previous.host), quoted(&contract.host)),
        (
            "currency",
            "currency",
            quoted(&previous.currency),
            quoted(&contract.currency),
        ),
        (
            "rounding.scale",
            "scale",
            previous.rounding.scale.to_string(),
            contract.rounding.scale.to_string(),
        ),
    ] {
        if old != new {
            return Err(ContractError::new(
                file,
                field,
                format!(
                    "version {} has {name} {new} but version {} ({previous_file}) has {old}; \
                     versions of one contract keep {field}",
                    contract.version, previous.version
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (pattern, text, expected) in [
            ("*", "anything", true),
            ("llama-3.1-*", "llama-3.1-70b-instruct", true),
            ("llama-3.1-*", "llama-3.3-70b-instruct", false),
            ("m", "m", true),
            ("m", "m-a", false),
            ("m-*", "m-", true),
            ("*-ft", "llama-medical-ft", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("", "", true),
        ] {
            assert_eq!(Glob::new(pattern).matches(text), expected, "{pattern} ~ {text}");
        }
    }
}
