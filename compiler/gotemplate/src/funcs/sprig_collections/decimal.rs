//! The part of `shopspring/decimal` (v1.4.0) that Sprig's float math (`addf`, `subf`, `mulf`,
//! `divf`, `add1f`) goes through: exact decimals made from float64 values by their shortest
//! round-trip digits, exact sums and products, quotients rounded to 16 decimal places (half
//! away from zero), and the nearest float64 at the end.

use std::cmp::Ordering;

use num_bigint::{BigInt, Sign};

use crate::funcs::FuncError;
use crate::gofmt::format_float_g;

/// `decimal.DivisionPrecision`.
const DIVISION_PRECISION: i32 = 16;

/// Bound on a power of ten built while aligning exponents, far beyond anything float64
/// operands produce, so that a hostile chain of operations cannot exhaust memory.
const MAX_SCALE: u64 = 1_000_000;

/// `value × 10^exp`.
#[derive(Debug, Clone)]
pub(super) struct Decimal {
    value: BigInt,
    exp: i32,
}

impl Decimal {
    fn new(value: i64, exp: i32) -> Decimal {
        Decimal {
            value: BigInt::from(value),
            exp,
        }
    }

    /// `decimal.NewFromFloat`: the shortest decimal that reads back as `f`. NaN and infinities
    /// panic in Go; the message is the call's error.
    pub(super) fn from_f64(f: f64) -> Result<Decimal, FuncError> {
        if f.is_nan() || f.is_infinite() {
            return Err(FuncError::new(format!(
                "Cannot create a Decimal from {}",
                format_float_g(f)
            )));
        }
        if f == 0.0 {
            return Ok(Decimal::new(0, 0));
        }
        // `{:e}` prints the shortest round-trip digits: `d.ddde±x`.
        let text = format!("{f:e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
        let fraction_digits = i32::try_from(digits.len()).unwrap_or(0) - 1;
        let mut value: BigInt = digits.parse().unwrap_or_default();
        if f < 0.0 {
            value = -value;
        }
        Ok(Decimal {
            value,
            exp: exp - fraction_digits,
        })
    }

    /// `Float64()`: the float64 nearest to the exact value (ties to even), as `big.Rat` gives.
    pub(super) fn to_f64(&self) -> f64 {
        format!("{}e{}", self.value, self.exp)
            .parse()
            .unwrap_or(0.0)
    }

    /// The value with exponent `exp` (never larger than the current one).
    fn rescale_down(&self, exp: i32) -> Result<BigInt, FuncError> {
        let diff = u64::try_from(i64::from(self.exp) - i64::from(exp)).unwrap_or(0);
        Ok(&self.value * pow10(diff)?)
    }

    /// `RescalePair`: both values at the smaller exponent.
    fn aligned(&self, other: &Decimal) -> Result<(BigInt, BigInt, i32), FuncError> {
        let exp = self.exp.min(other.exp);
        Ok((self.rescale_down(exp)?, other.rescale_down(exp)?, exp))
    }

    pub(super) fn add(&self, other: &Decimal) -> Result<Decimal, FuncError> {
        let (a, b, exp) = self.aligned(other)?;
        Ok(Decimal { value: a + b, exp })
    }

    pub(super) fn sub(&self, other: &Decimal) -> Result<Decimal, FuncError> {
        let (a, b, exp) = self.aligned(other)?;
        Ok(Decimal { value: a - b, exp })
    }

    pub(super) fn mul(&self, other: &Decimal) -> Result<Decimal, FuncError> {
        let exp = i64::from(self.exp) + i64::from(other.exp);
        let exp = i32::try_from(exp)
            .map_err(|_| FuncError::new(format!("exponent {exp} overflows an int32!")))?;
        Ok(Decimal {
            value: &self.value * &other.value,
            exp,
        })
    }

    fn cmp(&self, other: &Decimal) -> Result<Ordering, FuncError> {
        let (a, b, _) = self.aligned(other)?;
        Ok(a.cmp(&b))
    }

    fn abs(&self) -> Decimal {
        Decimal {
            value: BigInt::from_biguint(Sign::Plus, self.value.magnitude().clone()),
            exp: self.exp,
        }
    }

    /// `Div`: `DivRound(d2, DivisionPrecision)`.
    pub(super) fn div(&self, other: &Decimal) -> Result<Decimal, FuncError> {
        self.div_round(other, DIVISION_PRECISION)
    }

    /// `QuoRem`: `self = other × q + r` with `q` a multiple of `10^-precision`, truncated.
    fn quo_rem(&self, other: &Decimal, precision: i32) -> Result<(Decimal, Decimal), FuncError> {
        if other.value.sign() == Sign::NoSign {
            return Err(FuncError::new("decimal division by 0"));
        }
        let scale = -precision;
        let e = i64::from(self.exp) - i64::from(other.exp) - i64::from(scale);
        if i32::try_from(e).is_err() {
            return Err(FuncError::new("overflow in decimal QuoRem"));
        }
        let (aa, bb, rest_exp) = if e < 0 {
            (
                self.value.clone(),
                &other.value * pow10(e.unsigned_abs())?,
                self.exp,
            )
        } else {
            (
                &self.value * pow10(e.unsigned_abs())?,
                other.value.clone(),
                scale + other.exp,
            )
        };
        // BigInt's `/` and `%` truncate toward zero, like Go's `big.Int.QuoRem`.
        let q = &aa / &bb;
        let r = &aa % &bb;
        Ok((
            Decimal {
                value: q,
                exp: scale,
            },
            Decimal {
                value: r,
                exp: rest_exp,
            },
        ))
    }

    /// `DivRound`: the quotient rounded half away from zero at `precision` places.
    fn div_round(&self, other: &Decimal, precision: i32) -> Result<Decimal, FuncError> {
        let (q, r) = self.quo_rem(other, precision)?;
        let twice_r = Decimal {
            value: BigInt::from_biguint(Sign::Plus, r.value.magnitude() << 1u32),
            exp: r.exp.saturating_add(precision),
        };
        if twice_r.cmp(&other.abs())? == Ordering::Less {
            return Ok(q);
        }
        let unit = Decimal::new(1, -precision);
        let negative = (self.value.sign() == Sign::Minus) != (other.value.sign() == Sign::Minus)
            && self.value.sign() != Sign::NoSign;
        if negative { q.sub(&unit) } else { q.add(&unit) }
    }
}

fn pow10(n: u64) -> Result<BigInt, FuncError> {
    if n > MAX_SCALE {
        return Err(FuncError::new(format!(
            "decimal exponent difference {n} is too large"
        )));
    }
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    Ok(BigInt::from(10u32).pow(n))
}

#[cfg(test)]
mod tests {
    use super::Decimal;

    fn d(f: f64) -> Decimal {
        Decimal::from_f64(f).unwrap()
    }

    #[test]
    fn from_float_uses_shortest_digits() {
        let x = d(1.1);
        assert_eq!((x.value.to_string(), x.exp), ("11".to_string(), -1));
        let x = d(-2.5e-7);
        assert_eq!((x.value.to_string(), x.exp), ("-25".to_string(), -8));
        let x = d(100.0);
        assert_eq!((x.value.to_string(), x.exp), ("1".to_string(), 2));
        let x = d(0.1 + 0.2);
        assert_eq!(
            (x.value.to_string(), x.exp),
            ("30000000000000004".to_string(), -17)
        );
        assert_eq!(
            Decimal::from_f64(f64::NAN).unwrap_err().message,
            "Cannot create a Decimal from NaN"
        );
        assert_eq!(
            Decimal::from_f64(f64::NEG_INFINITY).unwrap_err().message,
            "Cannot create a Decimal from -Inf"
        );
    }

    #[test]
    fn arithmetic_is_exact_until_the_end() {
        assert_eq!(d(1.1).add(&d(2.2)).unwrap().to_f64(), 3.3);
        assert_eq!(d(0.1).add(&d(0.2)).unwrap().to_f64(), 0.3);
        assert_eq!(d(1e300).add(&d(1e-300)).unwrap().to_f64(), 1e300);
        assert_eq!(d(3.0).sub(&d(1.1)).unwrap().to_f64(), 1.9);
        assert_eq!(d(1.1).mul(&d(3.0)).unwrap().to_f64(), 3.3);
        assert_eq!(d(1e200).mul(&d(1e200)).unwrap().to_f64(), f64::INFINITY);
    }

    #[test]
    fn extreme_exponents_round_to_zero_or_infinity() {
        let tiny = Decimal::new(-1, i32::MIN);
        assert_eq!(tiny.to_f64().to_bits(), (-0.0f64).to_bits());
        assert_eq!(Decimal::new(1, i32::MAX).to_f64(), f64::INFINITY);
        assert!(d(10.0).mul(&Decimal::new(1, i32::MAX)).is_err());
        assert!(d(1e-300).add(&Decimal::new(1, 1_000_000)).is_err());
    }

    #[test]
    fn division_rounds_to_sixteen_places() {
        // shopspring's own examples.
        let q = d(2.0).div(&d(3.0)).unwrap();
        assert_eq!(
            (q.value.to_string(), q.exp),
            ("6666666666666667".to_string(), -16)
        );
        let q = d(2.0).div(&d(30000.0)).unwrap();
        assert_eq!(q.value.to_string(), "666666666667");
        let q = d(20000.0).div(&d(3.0)).unwrap();
        assert_eq!(q.value.to_string(), "66666666666666666667");
        let q = d(-2.0).div(&d(3.0)).unwrap();
        assert_eq!(q.value.to_string(), "-6666666666666667");
        assert_eq!(d(1.0).div(&d(3.0)).unwrap().to_f64(), 0.3333333333333333);
        // Tiny quotients vanish at 16 places.
        assert_eq!(d(1.0).div(&d(1e20)).unwrap().to_f64(), 0.0);
        assert_eq!(
            d(1.0).div(&d(0.0)).unwrap_err().message,
            "decimal division by 0"
        );
    }
}
