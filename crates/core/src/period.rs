//! Calendar days and settlement periods (calendar months and quarters, in UTC).

use std::fmt;

/// A UTC calendar date as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

impl Day {
    /// From a civil date (proleptic Gregorian), H. Hinnant's `days_from_civil`.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Day {
        let y = if month <= 2 { year - 1 } else { year } as i64;
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Day((era * 146_097 + doe - 719_468) as i32)
    }

    /// To a civil date `(year, month, day)`, H. Hinnant's `civil_from_days`.
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = self.0 as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
        (y, m, d)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Day> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = &text[range];
            part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())?
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year as i32, month) {
            return None;
        }
        Some(Day::from_ymd(year as i32, month, day))
    }

    pub fn unix_seconds(self) -> i64 {
        self.0 as i64 * 86_400
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// How long a contract's settlement period is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cadence {
    Month,
    Quarter,
}

impl Cadence {
    pub fn parse(text: &str) -> Option<Cadence> {
        match text {
            "month" => Some(Cadence::Month),
            "quarter" => Some(Cadence::Quarter),
            _ => None,
        }
    }

    fn months(self) -> u32 {
        match self {
            Cadence::Month => 1,
            Cadence::Quarter => 3,
        }
    }

    /// The period of this cadence that holds `day`.
    pub fn period_of(self, day: Day) -> Period {
        let (year, month, _) = day.ymd();
        let first_month = (month - 1) / self.months() * self.months() + 1;
        Period {
            cadence: self,
            year,
            first_month,
        }
    }

    pub fn is_period_start(self, day: Day) -> bool {
        self.period_of(day).start() == day
    }
}

/// A calendar month (`2026-10`) or quarter (`2026-Q4`) in UTC: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    pub cadence: Cadence,
    pub year: i32,
    /// 1..=12; for a quarter, its first month (1, 4, 7 or 10).
    pub first_month: u32,
}

impl Period {
    /// Parses `YYYY-MM` or `YYYY-Qn`.
    pub fn parse(text: &str) -> Option<Period> {
        let (year, rest) = text.split_once('-')?;
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year: i32 = year.parse().ok()?;
        if let Some(quarter) = rest.strip_prefix('Q') {
            let q: u32 = match quarter {
                "1" => 1,
                "2" => 2,
                "3" => 3,
                "4" => 4,
                _ => return None,
            };
            return Some(Period {
                cadence: Cadence::Quarter,
                year,
                first_month: (q - 1) * 3 + 1,
            });
        }
        if rest.len() != 2 || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let month: u32 = rest.parse().ok()?;
        (1..=12).contains(&month).then_some(Period {
            cadence: Cadence::Month,
            year,
            first_month: month,
        })
    }

    pub fn start(self) -> Day {
        Day::from_ymd(self.year, self.first_month, 1)
    }

    /// The first day after the period.
    pub fn end(self) -> Day {
        self.next().start()
    }

    pub fn next(self) -> Period {
        let month0 = self.first_month - 1 + self.cadence.months();
        Period {
            cadence: self.cadence,
            year: self.year + (month0 / 12) as i32,
            first_month: month0 % 12 + 1,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cadence {
            Cadence::Month => write!(f, "{:04}-{:02}", self.year, self.first_month),
            Cadence::Quarter => write!(f, "{:04}-Q{}", self.year, (self.first_month - 1) / 3 + 1),
        }
    }
}

/// RFC 3339 UTC of a Unix time in whole seconds, e.g. `2026-11-30T16:40:37Z`.
pub fn rfc3339(seconds: i64) -> String {
    let day = Day(seconds.div_euclid(86_400) as i32);
    let second = seconds.rem_euclid(86_400);
    format!("{day}T{:02}:{:02}:{:02}Z", second / 3600, second / 60 % 60, second % 60)
}

/// The UTC date of an RFC 3339 time as written by [`rfc3339`] (its first ten
/// characters).
pub fn date_of_rfc3339(text: &str) -> Option<Day> {
    text.get(..10).and_then(Day::parse)
}

/// RFC 3339 UTC midnight of a day, as statements print period bounds.
pub fn day_start_rfc3339(day: Day) -> String {
    format!("{day}T00:00:00Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_over_four_centuries() {
        for n in -200_000..200_000 {
            let day = Day(n);
            let (y, m, d) = day.ymd();
            assert_eq!(Day::from_ymd(y, m, d), day);
        }
        assert_eq!(Day::parse("1970-01-01"), Some(Day(0)));
        assert_eq!(Day::parse("2026-10-01").unwrap().to_string(), "2026-10-01");
        for bad in ["2026-02-29", "2026-13-01", "2026-1-01", "20261001", "2026-10-0x"] {
            assert_eq!(Day::parse(bad), None, "{bad}");
        }
        assert!(Day::parse("2028-02-29").is_some());
    }

    #[test]
    fn times_print_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(Day::from_ymd(2026, 11, 30).unix_seconds() + 16 * 3600 + 40 * 60 + 37),
            "2026-11-30T16:40:37Z"
        );
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(date_of_rfc3339("2026-11-30T16:40:37Z"), Day::parse("2026-11-30"));
    }

    #[test]
    fn periods_parse_print_and_step() {
        let october = Period::parse("2026-10").unwrap();
        assert_eq!(october.to_string(), "2026-10");
        assert_eq!(october.end(), Day::parse("2026-11-01").unwrap());
        assert_eq!(Period::parse("2026-12").unwrap().next().to_string(), "2027-01");
        let q4 = Period::parse("2026-Q4").unwrap();
        assert_eq!(q4.start(), Day::parse("2026-10-01").unwrap());
        assert_eq!(q4.end(), Day::parse("2027-01-01").unwrap());
        assert_eq!(Cadence::Quarter.period_of(Day::parse("2026-11-30").unwrap()), q4);
        assert!(Cadence::Quarter.is_period_start(Day::parse("2026-07-01").unwrap()));
        assert!(!Cadence::Quarter.is_period_start(Day::parse("2026-08-01").unwrap()));
        for bad in ["2026-13", "2026-Q5", "2026-Q0", "26-10", "2026-1"] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
    }
}
