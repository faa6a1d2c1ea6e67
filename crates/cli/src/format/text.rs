//! Small pieces of text layout shared by the tables: the terminal's width, digit
//! grouping, display rounding of unrounded decimals, shortened hashes, and lines
//! wrapped at a width.

use revshare_core::money::{Decimal, RoundingMode};

/// The width tables fit when stdout is not a terminal and `COLUMNS` is not set.
pub const DEFAULT_WIDTH: usize = 100;

/// Narrower than this, no layout is attempted (tables then overflow rather than
/// lose their amounts).
const MIN_WIDTH: usize = 20;

/// The width tables must fit: `COLUMNS` when set (as `ls` reads it), else the
/// terminal's width when stdout is one, else [`DEFAULT_WIDTH`].
pub fn width() -> usize {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok());
    let terminal = || {
        use std::io::IsTerminal;
        if std::io::stdout().is_terminal() {
            comfy_table::Table::new().width().map(usize::from)
        } else {
            None
        }
    };
    columns
        .or_else(terminal)
        .filter(|w| *w > 0)
        .unwrap_or(DEFAULT_WIDTH)
        .max(MIN_WIDTH)
}

/// The number of columns a string takes (the tables' text is ASCII or
/// single-width symbols).
pub fn columns(text: &str) -> usize {
    text.chars().count()
}

/// A decimal or integer string with its integer digits grouped by thousands:
/// `87370.92` → `87,370.92`, `-1234.50` → `-1,234.50`. Anything else is returned
/// as it is.
pub fn grouped(number: &str) -> String {
    let (sign, unsigned) = match number.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", number),
    };
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    if integer.is_empty() || !integer.bytes().all(|b| b.is_ascii_digit()) {
        return number.to_string();
    }
    let mut out = String::with_capacity(number.len() + integer.len() / 3);
    out.push_str(sign);
    for (index, digit) in integer.chars().enumerate() {
        if index > 0 && (integer.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// An integer count, grouped.
pub fn count(value: impl std::fmt::Display) -> String {
    grouped(&value.to_string())
}

/// A count and its noun, grouped: `1 event`, `1,203 events`.
pub fn counted(n: u64, noun: &str) -> String {
    let plural = if n == 1 { "" } else { "s" };
    format!("{} {noun}{plural}", count(n))
}

/// An unrounded decimal for display with at most `places` fractional digits
/// (half away from zero); a value with no more places is shown exactly. The
/// statement keeps the exact value: this is only what a narrow table prints.
pub fn rounded(value: &str, places: u32) -> String {
    match Decimal::parse(value, u32::from(u16::MAX)) {
        Ok(decimal) if decimal.normalized().scale() > places => {
            decimal.round(places, RoundingMode::HalfUp).to_fixed_string(places)
        }
        _ => value.to_string(),
    }
}

/// A decimal shown with exactly `places` fractional digits: padded with zeros, or
/// rounded half away from zero for display (`25695.801` at 2: `25695.80`, `10624.27`
/// at 3: `10624.270`). Anything that is not a decimal is returned as it is.
pub fn at_places(value: &str, places: u32) -> String {
    match Decimal::parse(value, u32::from(u16::MAX)) {
        Ok(decimal) => decimal.round(places, RoundingMode::HalfUp).to_fixed_string(places),
        Err(_) => value.to_string(),
    }
}

/// The number of fractional digits of an amount (the contract's rounding scale).
pub fn scale_of(amount: &str) -> u32 {
    amount
        .split_once('.')
        .map_or(0, |(_, fraction)| u32::try_from(fraction.len()).unwrap_or(0))
}

/// The first 16 digits of a hash and an ellipsis.
pub fn short_hash(hash: &str) -> String {
    if hash.len() <= 16 {
        return hash.to_string();
    }
    format!("{}…", &hash[..16])
}

/// `text` in at most `cap` columns: whole when it fits, else its start and its end
/// around a `…` (`llama-3.1-405b-instruct` in 12: `llama-…truct`), so that an
/// identifier shortened keeps what tells it from its neighbours at both ends.
pub fn shortened(text: &str, cap: usize) -> String {
    let length = columns(text);
    if length <= cap {
        return text.to_string();
    }
    let kept = cap.saturating_sub(1);
    let tail = kept / 2;
    let head = kept - tail;
    let chars: Vec<char> = text.chars().collect();
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[length - tail..]);
    out
}

/// `text` as lines of at most `cap` columns joined by `\n`: broken at spaces, never
/// inside a word; a word longer than `cap` is [`shortened`].
pub fn fitted(text: &str, cap: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let word = shortened(word, cap);
        if !line.is_empty() && columns(&line) + 1 + columns(&word) > cap {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    lines.push(line);
    lines.join("\n")
}

/// Lines of at most `width` columns holding `parts` in order, separated by `, `,
/// the first starting with `lead` and the others indented by two spaces. A part
/// longer than a line gets a line of its own (and overflows it).
pub fn wrapped(lead: &str, parts: &[String], width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = lead.to_string();
    for (index, part) in parts.iter().enumerate() {
        let separator = if index + 1 < parts.len() { "," } else { "" };
        let piece = format!("{part}{separator}");
        if !line.is_empty() && columns(&line) + 1 + columns(&piece) > width {
            lines.push(std::mem::replace(&mut line, format!("  {piece}")));
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&piece);
        }
    }
    lines.push(line);
    lines
}

/// A sentence broken at spaces into lines of at most `width` columns (a word longer
/// than a line gets a line of its own).
pub fn words(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !line.is_empty() && columns(&line) + 1 + columns(word) > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_counts_are_grouped_by_thousands() {
        assert_eq!(grouped("87370.92"), "87,370.92");
        assert_eq!(grouped("-1234.50"), "-1,234.50");
        assert_eq!(grouped("0.00"), "0.00");
        assert_eq!(grouped("-0.01"), "-0.01");
        assert_eq!(grouped("999"), "999");
        assert_eq!(grouped("1000"), "1,000");
        assert_eq!(grouped("1234567890.123456789"), "1,234,567,890.123456789");
        assert_eq!(count(1_516_442u64), "1,516,442");
        assert_eq!(counted(1, "event"), "1 event");
        assert_eq!(counted(1203, "late event"), "1,203 late events");
        assert_eq!(grouped("n/a"), "n/a");
    }

    #[test]
    fn unrounded_values_are_rounded_for_display_only_when_longer() {
        assert_eq!(rounded("0.913913717958", 4), "0.9139");
        assert_eq!(rounded("0.10966964615496", 4), "0.1097");
        assert_eq!(rounded("-2.00005", 4), "-2.0001");
        assert_eq!(rounded("1234567.1", 4), "1234567.1");
        assert_eq!(rounded("4", 4), "4");
        assert_eq!(scale_of("25000.00"), 2);
        assert_eq!(at_places("25695.801", 2), "25695.80");
        assert_eq!(at_places("10624.27", 3), "10624.270");
        assert_eq!(at_places("-2.00005", 4), "-2.0001");
        assert_eq!(at_places("", 2), "");
        assert_eq!(scale_of("3"), 0);
    }

    #[test]
    fn wrapped_lines_fit_and_keep_every_part() {
        let parts: Vec<String> = (0..12).map(|i| format!("beneficiary-{i} 1,234.5{i}")).collect();
        let lines = wrapped("payouts:", &parts, 60);
        assert!(lines.iter().all(|l| columns(l) <= 60), "{lines:#?}");
        let joined = lines.join(" ");
        assert!(parts.iter().all(|p| joined.contains(p.as_str())));
        assert_eq!(wrapped("total:", &["1".to_string()], 80), vec!["total: 1"]);
        assert_eq!(words("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
    }

    #[test]
    fn long_words_are_shortened_in_the_middle_and_never_split() {
        assert_eq!(shortened("llama-3.1-405b-instruct", 12), "llama-…truct");
        assert_eq!(shortened("llama-3.1-405b-instruct", 23), "llama-3.1-405b-instruct");
        assert_eq!(columns(&shortened("abcdefghijklmnop", 9)), 9);
        assert_eq!(
            fitted("acme-llama nimbus-llama orbit", 12),
            "acme-llama\nnimbus-llama\norbit"
        );
        assert_eq!(fitted("acme-llama nimbus-llama", 30), "acme-llama nimbus-llama");
        assert_eq!(fitted("structured-extraction x", 10), "struc…tion\nx");
    }
}
