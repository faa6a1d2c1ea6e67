//! Exact decimal arithmetic for money, rates and quantities.
//!
//! A [`Decimal`] is an arbitrary-precision integer of units and a scale: the value is
//! `units / 10^scale`. Addition, subtraction and multiplication are exact; the only
//! rounding is the explicit [`Decimal::round`] and [`Decimal::div_round`], which the
//! rating rules call at the places the spec names. There is no float anywhere here.

use std::cmp::Ordering;
use std::fmt;

use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// How an amount is rounded to the statement's scale. Modes act on the magnitude.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundingMode {
    /// Half to even ("banker's rounding").
    HalfEven,
    /// Half away from zero.
    HalfUp,
    /// Toward zero (truncation).
    Down,
}

impl RoundingMode {
    pub fn parse(text: &str) -> Option<RoundingMode> {
        match text {
            "half_even" => Some(RoundingMode::HalfEven),
            "half_up" => Some(RoundingMode::HalfUp),
            "down" => Some(RoundingMode::Down),
            _ => None,
        }
    }
}

/// Why a decimal string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("`{0}` is not a decimal number (expected digits with an optional sign and fraction, such as \"0.25\")")]
    Syntax(String),
    #[error("`{text}` has {digits} fractional digits; at most {max} are allowed")]
    TooManyFractionalDigits { text: String, digits: usize, max: u32 },
    #[error("`{text}` has {digits} integer digits; at most {max} are allowed")]
    TooManyIntegerDigits { text: String, digits: usize, max: u32 },
}

#[derive(Clone, Debug)]
pub struct Decimal {
    units: BigInt,
    scale: u32,
}

fn pow10(exp: u32) -> BigInt {
    // Small powers are the common case; a loop over u128 avoids a BigInt pow for them.
    if exp <= 38 {
        BigInt::from(10u128.pow(exp))
    } else {
        num_traits::pow(BigInt::from(10u8), exp as usize)
    }
}

/// Divides `numerator` by a positive `denominator`, rounding the quotient with `mode`.
fn div_round_int(numerator: &BigInt, denominator: &BigInt, mode: RoundingMode) -> BigInt {
    debug_assert!(denominator.is_positive());
    let (quotient, remainder) = numerator.abs().div_rem(denominator);
    let twice = &remainder * 2u8;
    let bump = match mode {
        RoundingMode::Down => false,
        RoundingMode::HalfUp => twice >= *denominator,
        RoundingMode::HalfEven => match twice.cmp(denominator) {
            Ordering::Greater => true,
            Ordering::Equal => quotient.is_odd(),
            Ordering::Less => false,
        },
    };
    let magnitude = if bump { quotient + 1u8 } else { quotient };
    if numerator.is_negative() {
        -magnitude
    } else {
        magnitude
    }
}

impl Decimal {
    pub fn zero() -> Decimal {
        Decimal {
            units: BigInt::zero(),
            scale: 0,
        }
    }

    pub fn one() -> Decimal {
        Decimal {
            units: BigInt::one(),
            scale: 0,
        }
    }

    pub fn from_units(units: impl Into<BigInt>, scale: u32) -> Decimal {
        Decimal {
            units: units.into(),
            scale,
        }
    }

    pub fn from_int(value: impl Into<BigInt>) -> Decimal {
        Decimal::from_units(value, 0)
    }

    /// Parses `-?digits(.digits)?` with at most `frac_max` fractional digits.
    pub fn parse(text: &str, frac_max: u32) -> Result<Decimal, DecimalError> {
        Decimal::parse_bounded(text, frac_max, 30)
    }

    /// Like [`Decimal::parse`], also bounding the number of integer digits.
    pub fn parse_bounded(text: &str, frac_max: u32, int_max: u32) -> Result<Decimal, DecimalError> {
        let syntax = || DecimalError::Syntax(text.to_string());
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        let (int_part, frac_part) = match unsigned.split_once('.') {
            Some((i, f)) => (i, f),
            None => (unsigned, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
            return Err(syntax());
        }
        if unsigned.contains('.') && frac_part.is_empty() {
            return Err(syntax());
        }
        if frac_part.len() > frac_max as usize {
            return Err(DecimalError::TooManyFractionalDigits {
                text: text.to_string(),
                digits: frac_part.len(),
                max: frac_max,
            });
        }
        let int_digits = int_part.trim_start_matches('0').len();
        if int_digits > int_max as usize {
            return Err(DecimalError::TooManyIntegerDigits {
                text: text.to_string(),
                digits: int_digits,
                max: int_max,
            });
        }
        let mut digits = String::with_capacity(int_part.len() + frac_part.len() + 1);
        if unsigned.len() != text.len() {
            digits.push('-');
        }
        digits.push_str(int_part);
        digits.push_str(frac_part);
        let units: BigInt = digits.parse().map_err(|_| syntax())?;
        Ok(Decimal {
            units,
            scale: frac_part.len() as u32,
        })
    }

    pub fn units(&self) -> &BigInt {
        &self.units
    }

    pub fn scale(&self) -> u32 {
        self.scale
    }

    pub fn is_zero(&self) -> bool {
        self.units.is_zero()
    }

    pub fn is_negative(&self) -> bool {
        self.units.is_negative()
    }

    pub fn abs(&self) -> Decimal {
        Decimal {
            units: self.units.abs(),
            scale: self.scale,
        }
    }

    /// The same value with `scale` fractional digits; `scale` must not lose digits.
    fn rescaled(&self, scale: u32) -> BigInt {
        debug_assert!(scale >= self.scale);
        &self.units * pow10(scale - self.scale)
    }

    pub fn add(&self, other: &Decimal) -> Decimal {
        let scale = self.scale.max(other.scale);
        Decimal {
            units: self.rescaled(scale) + other.rescaled(scale),
            scale,
        }
    }

    pub fn sub(&self, other: &Decimal) -> Decimal {
        self.add(&other.neg())
    }

    pub fn neg(&self) -> Decimal {
        Decimal {
            units: -&self.units,
            scale: self.scale,
        }
    }

    pub fn mul(&self, other: &Decimal) -> Decimal {
        Decimal {
            units: &self.units * &other.units,
            scale: self.scale + other.scale,
        }
    }

    /// Clamps into `[low, high]`.
    pub fn clamped(&self, low: &Decimal, high: &Decimal) -> Decimal {
        assert!(low <= high, "clamp bounds are ordered");
        Ord::clamp(self, low, high).clone()
    }

    /// Rounds to `scale` fractional digits with `mode`.
    pub fn round(&self, scale: u32, mode: RoundingMode) -> Decimal {
        if scale >= self.scale {
            return Decimal {
                units: self.rescaled(scale),
                scale,
            };
        }
        let divisor = pow10(self.scale - scale);
        Decimal {
            units: div_round_int(&self.units, &divisor, mode),
            scale,
        }
    }

    /// `round(self × numerator / denominator)` to `scale` places, from the exact
    /// rational value. `denominator` must be positive.
    pub fn mul_div_round(&self, numerator: &Decimal, denominator: &Decimal, scale: u32, mode: RoundingMode) -> Decimal {
        assert!(
            denominator.units.is_positive(),
            "mul_div_round needs a positive denominator"
        );
        // value = (a/10^sa) (n/10^sn) / (d/10^sd) = a n 10^sd / (d 10^(sa+sn))
        // result units = value × 10^scale.
        let mut top = &self.units * &numerator.units * pow10(denominator.scale + scale);
        let mut bottom = &denominator.units * pow10(self.scale + numerator.scale);
        let common = top.gcd(&bottom);
        if !common.is_zero() && !common.is_one() {
            top /= &common;
            bottom /= &common;
        }
        Decimal {
            units: div_round_int(&top, &bottom, mode),
            scale,
        }
    }

    /// The rational `numerator / denominator` rounded half-even to `digits` significant
    /// digits, for display only.
    pub fn ratio_significant(numerator: &Decimal, denominator: &Decimal, digits: u32) -> Decimal {
        assert!(denominator.units.is_positive());
        assert!(digits > 0);
        if numerator.is_zero() {
            return Decimal::zero();
        }
        // Find the decimal exponent of the quotient, then round at the right place.
        let top = numerator.units.abs() * pow10(denominator.scale);
        let bottom = &denominator.units * pow10(numerator.scale);
        // q = top / bottom; the number of integer digits of q (may be ≤ 0).
        let int_digits = {
            let quotient = &top / &bottom;
            if quotient.is_zero() {
                // Count leading fractional zeros: smallest k with top × 10^k ≥ bottom.
                let mut k = 0i64;
                let mut scaled = top.clone();
                while scaled < bottom {
                    scaled *= 10u8;
                    k += 1;
                }
                1 - k
            } else {
                quotient.to_string().len() as i64
            }
        };
        let signed_top = if numerator.is_negative() { -top } else { top };
        let places = digits as i64 - int_digits;
        if places >= 0 {
            let scale = places as u32;
            let units = div_round_int(&(signed_top * pow10(scale)), &bottom, RoundingMode::HalfEven);
            Decimal { units, scale }
        } else {
            // More integer digits than significant ones: round to a multiple of 10^k.
            let k = pow10((-places) as u32);
            let units = div_round_int(&signed_top, &(bottom * &k), RoundingMode::HalfEven) * k;
            Decimal { units, scale: 0 }
        }
    }

    /// Removes trailing fractional zeros.
    pub fn normalized(&self) -> Decimal {
        let mut units = self.units.clone();
        let mut scale = self.scale;
        let ten = BigInt::from(10u8);
        while scale > 0 {
            let (q, r) = units.div_rem(&ten);
            if !r.is_zero() {
                break;
            }
            units = q;
            scale -= 1;
        }
        if units.is_zero() {
            scale = 0;
        }
        Decimal { units, scale }
    }

    /// Plain notation, no exponent, no trailing fractional zeros, `0` for zero.
    pub fn to_normalized_string(&self) -> String {
        self.normalized().to_string()
    }

    /// Plain notation with exactly `scale` fractional digits (the value must fit).
    pub fn to_fixed_string(&self, scale: u32) -> String {
        assert!(scale >= self.normalized().scale, "to_fixed_string would lose digits");
        Decimal {
            units: self.rescaled_any(scale),
            scale,
        }
        .to_string()
    }

    fn rescaled_any(&self, scale: u32) -> BigInt {
        if scale >= self.scale {
            self.rescaled(scale)
        } else {
            &self.units / pow10(self.scale - scale)
        }
    }
}

impl Default for Decimal {
    fn default() -> Decimal {
        Decimal::zero()
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.units.magnitude().to_string();
        if self.units.sign() == Sign::Minus {
            f.write_str("-")?;
        }
        let scale = self.scale as usize;
        if scale == 0 {
            return f.write_str(&digits);
        }
        if digits.len() > scale {
            let (int_part, frac_part) = digits.split_at(digits.len() - scale);
            write!(f, "{int_part}.{frac_part}")
        } else {
            write!(f, "0.{}{}", "0".repeat(scale - digits.len()), digits)
        }
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Decimal) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Decimal) -> Ordering {
        let scale = self.scale.max(other.scale);
        self.rescaled(scale).cmp(&other.rescaled(scale))
    }
}

/// A quantity of money or a fraction, split into parts that add up exactly.
///
/// Each part is `amount × weight_i / Σ weights`, first rounded toward zero to `scale`,
/// then the units left over go one each to the largest remainders (ties to the
/// earlier entry, so callers pass weights in beneficiary-id order). A negative amount
/// is split by its absolute value. Weights must be non-negative with a positive sum.
pub fn split_largest_remainder(amount: &Decimal, weights: &[Decimal], scale: u32) -> Vec<Decimal> {
    assert!(!weights.is_empty(), "a split needs at least one weight");
    assert!(
        weights.iter().all(|w| !w.is_negative()),
        "split weights are non-negative"
    );
    let magnitude = amount.abs();
    let total_scale = weights.iter().map(Decimal::scale).max().unwrap_or(0);
    let weight_units: Vec<BigInt> = weights.iter().map(|w| w.rescaled(total_scale)).collect();
    let weight_sum: BigInt = weight_units.iter().sum();
    assert!(weight_sum.is_positive(), "split weights must not all be zero");
    // Part units at `scale`: magnitude_units(at scale of amount) × w / W / 10^(amount.scale - scale)
    // Work with a common exact numerator and denominator.
    let amount_at = |s: u32| magnitude.rescaled_any(s);
    let numerator_scale = magnitude.scale.max(scale);
    let amount_units = amount_at(numerator_scale);
    let denominator = &weight_sum * pow10(numerator_scale - scale);
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for w in &weight_units {
        let (q, r) = (&amount_units * w).div_rem(&denominator);
        parts.push(q);
        remainders.push(r);
    }
    let target = magnitude.round(scale, RoundingMode::Down);
    debug_assert_eq!(target, magnitude, "the amount to split has at most `scale` places");
    let assigned: BigInt = parts.iter().sum();
    let mut left_over = (target.rescaled(scale) - assigned)
        .to_usize()
        .expect("left-over units are fewer than the parts");
    assert!(
        left_over <= parts.len(),
        "largest remainder leaves at most one unit a part"
    );
    // Stable sort keeps beneficiary order among equal remainders.
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|a, b| remainders[*b].cmp(&remainders[*a]));
    for index in order {
        if left_over == 0 {
            break;
        }
        parts[index] += 1u8;
        left_over -= 1;
    }
    parts
        .into_iter()
        .map(|units| {
            let part = Decimal { units, scale };
            if amount.is_negative() {
                part.neg()
            } else {
                part
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text, 40).unwrap()
    }

    #[test]
    fn parse_and_print_round_trip() {
        for (input, normalized) in [
            ("0", "0"),
            ("0.000", "0"),
            ("-0.010", "-0.01"),
            ("150", "150"),
            ("1.50", "1.5"),
            ("007.25", "7.25"),
        ] {
            assert_eq!(d(input).to_normalized_string(), normalized, "{input}");
        }
        for bad in ["", ".", "1.", ".5", "1e3", "+1", "1,5", " 1", "--1", "0x10"] {
            assert!(Decimal::parse(bad, 12).is_err(), "{bad:?} should be refused");
        }
        assert!(matches!(
            Decimal::parse("0.1234567", 6),
            Err(DecimalError::TooManyFractionalDigits { .. })
        ));
    }

    #[test]
    fn rounding_modes_act_on_the_magnitude() {
        let cases = [
            // value, half_even, half_up, down
            ("2.345", "2.34", "2.35", "2.34"),
            ("2.355", "2.36", "2.36", "2.35"),
            ("-2.345", "-2.34", "-2.35", "-2.34"),
            ("-2.3451", "-2.35", "-2.35", "-2.34"),
            ("0.005", "0.00", "0.01", "0.00"),
            ("7", "7.00", "7.00", "7.00"),
        ];
        for (value, even, up, down) in cases {
            let v = d(value);
            assert_eq!(v.round(2, RoundingMode::HalfEven).to_fixed_string(2), even, "{value}");
            assert_eq!(v.round(2, RoundingMode::HalfUp).to_fixed_string(2), up, "{value}");
            assert_eq!(v.round(2, RoundingMode::Down).to_fixed_string(2), down, "{value}");
        }
    }

    #[test]
    fn mul_div_rounds_the_exact_rational() {
        // 35 × 175.0125 / 300.05 = 20.4147…
        let amount = d("35").mul_div_round(&d("175.0125"), &d("300.05"), 2, RoundingMode::HalfEven);
        assert_eq!(amount.to_fixed_string(2), "20.41");
    }

    #[test]
    fn significant_digits_of_a_ratio() {
        let m = Decimal::ratio_significant(&d("175.0125"), &d("300.05"), 20);
        assert_eq!(m.to_normalized_string(), "0.58327778703549408432");
        assert_eq!(Decimal::ratio_significant(&d("1"), &d("3"), 3).to_string(), "0.333");
        assert_eq!(
            Decimal::ratio_significant(&d("2"), &d("2"), 20).to_normalized_string(),
            "1"
        );
        assert_eq!(
            Decimal::ratio_significant(&d("1"), &d("800"), 2).to_normalized_string(),
            "0.0012"
        );
        assert_eq!(
            Decimal::ratio_significant(&d("1"), &d("600"), 2).to_normalized_string(),
            "0.0017"
        );
        assert_eq!(
            Decimal::ratio_significant(&d("12345"), &d("1"), 2).to_normalized_string(),
            "12000"
        );
    }

    #[test]
    fn largest_remainder_breaks_ties_by_order() {
        let parts = split_largest_remainder(&d("0.61"), &[d("0.5"), d("0.5")], 2);
        assert_eq!(parts, vec![d("0.31"), d("0.30")]);
        let parts = split_largest_remainder(&d("-2.00"), &[d("2.91"), d("0.30")], 2);
        assert_eq!(parts, vec![d("-1.81"), d("-0.19")]);
    }
}
