//! Sprig's conversions and math (`numeric.go` and the arithmetic lambdas of `functions.go`):
//! `atoi`, `int`, `int64`, `float64`, `toDecimal`, `seq`, `until`, `untilStep`, integer math
//! (`add`, `sub`, `mul`, `div`, `mod`, `max`, `min`, `randInt`, …), float math through decimals
//! (`addf`, `subf`, `mulf`, `divf`, `add1f`) and `floor`, `ceil`, `round`, `maxf`, `minf`.
//!
//! Integer math converts every operand with `cast.ToInt64` and returns int64 (wrapping on
//! overflow like Go); float math converts with `cast.ToFloat64` and returns float64.

use super::decimal::Decimal;
use super::{MAX_GENERATED, arg, int_arg, str_arg};
use crate::funcs::convert::{to_float64, to_int64};
use crate::funcs::{Context, Func, FuncError, FuncMap, FuncResult, Ty};
use crate::gofmt::format_value;
use crate::value::{ListType, Value};

const DIVIDE_BY_ZERO: &str = "runtime error: integer divide by zero";

pub(super) fn register(map: &mut FuncMap) {
    // Conversions.
    map.insert(
        "atoi",
        Func::pure(&[Ty::String], None, |a| {
            Ok(Value::Int(atoi(&str_arg(a, 0))))
        }),
    );
    map.insert(
        "int",
        Func::pure(&[Ty::Any], None, |a| Ok(Value::Int(to_int64(arg(a, 0))))),
    );
    map.insert(
        "int64",
        Func::pure(&[Ty::Any], None, |a| Ok(Value::Int64(to_int64(arg(a, 0))))),
    );
    map.insert(
        "float64",
        Func::pure(&[Ty::Any], None, |a| {
            Ok(Value::Float(to_float64(arg(a, 0))))
        }),
    );
    map.insert(
        "toDecimal",
        Func::pure(&[Ty::Any], None, |a| {
            let text = format_value(arg(a, 0));
            Ok(Value::Int64(parse_int(&text, 8).unwrap_or(0)))
        }),
    );

    // Sequences.
    map.insert("seq", Func::pure(&[], Some(Ty::Int), seq));
    map.insert(
        "until",
        Func::pure(&[Ty::Int], None, |a| {
            let count = int_arg(a, 0);
            let step = if count < 0 { -1 } else { 1 };
            ints(0, count, step)
        }),
    );
    map.insert(
        "untilStep",
        Func::pure(&[Ty::Int, Ty::Int, Ty::Int], None, |a| {
            ints(int_arg(a, 0), int_arg(a, 1), int_arg(a, 2))
        }),
    );

    // Integer math.
    map.insert(
        "add1",
        Func::pure(&[Ty::Any], None, |a| {
            Ok(Value::Int64(to_int64(arg(a, 0)).wrapping_add(1)))
        }),
    );
    map.insert(
        "add",
        Func::pure(&[], Some(Ty::Any), |a| {
            Ok(Value::Int64(
                a.iter().fold(0i64, |acc, v| acc.wrapping_add(to_int64(v))),
            ))
        }),
    );
    map.insert(
        "sub",
        Func::pure(&[Ty::Any, Ty::Any], None, |a| {
            Ok(Value::Int64(
                to_int64(arg(a, 0)).wrapping_sub(to_int64(arg(a, 1))),
            ))
        }),
    );
    map.insert(
        "div",
        Func::pure(&[Ty::Any, Ty::Any], None, |a| {
            let (x, y) = (to_int64(arg(a, 0)), to_int64(arg(a, 1)));
            if y == 0 {
                return Err(FuncError::new(DIVIDE_BY_ZERO));
            }
            // Go's MinInt64 / -1 wraps to MinInt64 rather than trapping.
            Ok(Value::Int64(x.wrapping_div(y)))
        }),
    );
    map.insert(
        "mod",
        Func::pure(&[Ty::Any, Ty::Any], None, |a| {
            let (x, y) = (to_int64(arg(a, 0)), to_int64(arg(a, 1)));
            if y == 0 {
                return Err(FuncError::new(DIVIDE_BY_ZERO));
            }
            // Truncated remainder: the sign follows the dividend, as in Go.
            Ok(Value::Int64(x.wrapping_rem(y)))
        }),
    );
    map.insert(
        "mul",
        Func::pure(&[Ty::Any], Some(Ty::Any), |a| {
            let first = to_int64(arg(a, 0));
            let rest = a.get(1..).unwrap_or_default();
            Ok(Value::Int64(
                rest.iter()
                    .fold(first, |acc, v| acc.wrapping_mul(to_int64(v))),
            ))
        }),
    );
    for name in ["max", "biggest"] {
        map.insert(
            name,
            Func::pure(&[Ty::Any], Some(Ty::Any), |a| {
                let rest = a.get(1..).unwrap_or_default();
                let first = to_int64(arg(a, 0));
                Ok(Value::Int64(
                    rest.iter().map(to_int64).fold(first, i64::max),
                ))
            }),
        );
    }
    map.insert(
        "min",
        Func::pure(&[Ty::Any], Some(Ty::Any), |a| {
            let rest = a.get(1..).unwrap_or_default();
            let first = to_int64(arg(a, 0));
            Ok(Value::Int64(
                rest.iter().map(to_int64).fold(first, i64::min),
            ))
        }),
    );
    map.insert(
        "randInt",
        Func::new(&[Ty::Int, Ty::Int], None, |ctx, a| {
            rand_int(ctx, int_arg(a, 0), int_arg(a, 1))
        }),
    );

    // Float math through shopspring/decimal.
    map.insert(
        "add1f",
        Func::pure(&[Ty::Any], None, |a| {
            decimal_op(arg(a, 0), &[Value::Int(1)], Decimal::add)
        }),
    );
    map.insert(
        "addf",
        Func::pure(&[], Some(Ty::Any), |a| {
            decimal_op(&Value::Float(0.0), a, Decimal::add)
        }),
    );
    map.insert(
        "subf",
        Func::pure(&[Ty::Any], Some(Ty::Any), |a| {
            decimal_op(arg(a, 0), a.get(1..).unwrap_or_default(), Decimal::sub)
        }),
    );
    map.insert(
        "mulf",
        Func::pure(&[Ty::Any], Some(Ty::Any), |a| {
            decimal_op(arg(a, 0), a.get(1..).unwrap_or_default(), Decimal::mul)
        }),
    );
    map.insert(
        "divf",
        Func::pure(&[Ty::Any], Some(Ty::Any), |a| {
            decimal_op(arg(a, 0), a.get(1..).unwrap_or_default(), Decimal::div)
        }),
    );

    // Float math on float64.
    map.insert(
        "maxf",
        Func::pure(&[Ty::Any], Some(Ty::Any), |a| {
            let rest = a.get(1..).unwrap_or_default();
            let first = to_float64(arg(a, 0));
            Ok(Value::Float(
                rest.iter().map(to_float64).fold(first, go_max),
            ))
        }),
    );
    map.insert(
        "minf",
        Func::pure(&[Ty::Any], Some(Ty::Any), |a| {
            let rest = a.get(1..).unwrap_or_default();
            let first = to_float64(arg(a, 0));
            Ok(Value::Float(
                rest.iter().map(to_float64).fold(first, go_min),
            ))
        }),
    );
    map.insert(
        "floor",
        Func::pure(&[Ty::Any], None, |a| {
            Ok(Value::Float(to_float64(arg(a, 0)).floor()))
        }),
    );
    map.insert(
        "ceil",
        Func::pure(&[Ty::Any], None, |a| {
            Ok(Value::Float(to_float64(arg(a, 0)).ceil()))
        }),
    );
    map.insert(
        "round",
        Func::pure(&[Ty::Any, Ty::Int], Some(Ty::Float), |a| {
            let round_on = match a.get(2) {
                Some(Value::Float(x)) => *x,
                Some(other) => to_float64(other),
                None => 0.5,
            };
            Ok(Value::Float(round(
                to_float64(arg(a, 0)),
                int_arg(a, 1),
                round_on,
            )))
        }),
    );
}

/// `strconv.Atoi` with the error dropped: 0 for malformed input, the clamped bound for
/// out-of-range input (Go returns it alongside the range error).
fn atoi(s: &str) -> i64 {
    match parse_int_detailed(s, 10) {
        Ok(n) | Err(NumError::Range(n)) => n,
        Err(NumError::Syntax) => 0,
    }
}

/// `strconv.ParseInt(s, base, 64)` for an explicit base (no prefixes, no underscores).
fn parse_int(s: &str, base: u32) -> Option<i64> {
    parse_int_detailed(s, base).ok()
}

enum NumError {
    Syntax,
    /// Out of range; Go's result is the clamped bound carried here.
    Range(i64),
}

fn parse_int_detailed(s: &str, base: u32) -> Result<i64, NumError> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    // A range error of ParseUint carries on with its clamped value, u64::MAX.
    let magnitude = match parse_uint(digits, base) {
        Ok(n) => n,
        Err(NumError::Range(_)) => u64::MAX,
        Err(NumError::Syntax) => return Err(NumError::Syntax),
    };
    let cutoff = 1u64 << 63;
    if !neg && magnitude >= cutoff {
        return Err(NumError::Range(i64::MAX));
    }
    if neg && magnitude > cutoff {
        return Err(NumError::Range(i64::MIN));
    }
    let n = magnitude as i64;
    Ok(if neg { n.wrapping_neg() } else { n })
}

/// `strconv.ParseUint(s, base, 64)`: digits are checked one by one and overflow returns at
/// once, so `"99999999999999999999x"` is a range error, not a syntax error (a Go quirk).
fn parse_uint(s: &str, base: u32) -> Result<u64, NumError> {
    if s.is_empty() {
        return Err(NumError::Syntax);
    }
    let base64 = u64::from(base);
    let cutoff = u64::MAX / base64 + 1;
    let mut n: u64 = 0;
    for c in s.bytes() {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'z' => c - b'a' + 10,
            b'A'..=b'Z' => c - b'A' + 10,
            _ => return Err(NumError::Syntax),
        };
        if u32::from(d) >= base {
            return Err(NumError::Syntax);
        }
        if n >= cutoff {
            return Err(NumError::Range(i64::MAX));
        }
        n *= base64;
        match n.checked_add(u64::from(d)) {
            Some(next) => n = next,
            None => return Err(NumError::Range(i64::MAX)),
        }
    }
    Ok(n)
}

fn ints(start: i64, stop: i64, step: i64) -> FuncResult {
    let mut out = Vec::new();
    until_step(start, stop, step, |i| out.push(Value::Int(i)))?;
    Ok(Value::typed_list(out, ListType::Int))
}

/// Sprig's `untilStep`: counts from `start` towards `stop` (exclusive) by `step`, handing each
/// number to `emit`; a step of the wrong sign (or 0) gives nothing. The counter wraps on
/// overflow as Go's does; more than [`MAX_GENERATED`] numbers is an error.
fn until_step(
    start: i64,
    stop: i64,
    step: i64,
    mut emit: impl FnMut(i64),
) -> Result<(), FuncError> {
    let ascending = stop >= start;
    if (ascending && step <= 0) || (!ascending && step >= 0) {
        return Ok(());
    }
    let mut count = 0usize;
    let mut i = start;
    while if ascending { i < stop } else { i > stop } {
        if count == MAX_GENERATED {
            return Err(FuncError::new(format!(
                "sequence longer than {MAX_GENERATED} elements"
            )));
        }
        emit(i);
        count += 1;
        i = i.wrapping_add(step);
    }
    Ok(())
}

/// `seq END`, `seq START END`, `seq START STEP END`: numbers joined by spaces, both ends
/// included; any other arity is `""`.
fn seq(params: &[Value]) -> FuncResult {
    let p = |i: usize| int_arg(params, i);
    let (start, stop, step) = match params.len() {
        1 => {
            let (start, end) = (1, p(0));
            let increment = if end < start { -1 } else { 1 };
            (start, end.wrapping_add(increment), increment)
        }
        2 => {
            let (start, end) = (p(0), p(1));
            let step = if end < start { -1 } else { 1 };
            (start, end.wrapping_add(step), step)
        }
        3 => {
            let (start, step, end) = (p(0), p(1), p(2));
            let mut increment = 1;
            if end < start {
                increment = -1;
                if step > 0 {
                    return Ok(Value::from(""));
                }
            }
            (start, end.wrapping_add(increment), step)
        }
        _ => return Ok(Value::from("")),
    };
    let mut text = String::new();
    until_step(start, stop, step, |i| {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&i.to_string());
    })?;
    Ok(Value::from(text))
}

/// `rand.Intn(max-min) + min` from the render's generator.
fn rand_int(ctx: &mut dyn Context, min: i64, max: i64) -> FuncResult {
    let n = max.wrapping_sub(min);
    if n <= 0 {
        return Err(FuncError::new("invalid argument to Intn"));
    }
    let n = n.unsigned_abs();
    // Lemire's multiply-shift maps 64 random bits onto [0, n).
    let r = ((u128::from(ctx.random_u64()) * u128::from(n)) >> 64) as u64;
    Ok(Value::Int((r as i64).wrapping_add(min)))
}

/// Sprig's `execDecimalOp`: `first` and every operand become decimals through float64, the
/// operation folds left, and the exact result is rounded to float64 once.
fn decimal_op(
    first: &Value,
    rest: &[Value],
    op: fn(&Decimal, &Decimal) -> Result<Decimal, FuncError>,
) -> FuncResult {
    let mut acc = Decimal::from_f64(to_float64(first))?;
    for v in rest {
        acc = op(&acc, &Decimal::from_f64(to_float64(v))?)?;
    }
    Ok(Value::Float(acc.to_f64()))
}

/// Go's `math.Max`: +Inf wins over NaN, NaN over numbers, +0 over -0.
fn go_max(x: f64, y: f64) -> f64 {
    if x == f64::INFINITY || y == f64::INFINITY {
        f64::INFINITY
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && y == 0.0 {
        if x.is_sign_negative() { y } else { x }
    } else if x > y {
        x
    } else {
        y
    }
}

/// Go's `math.Min`: -Inf wins over NaN, NaN over numbers, -0 over +0.
fn go_min(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY || y == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && y == 0.0 {
        if x.is_sign_negative() { x } else { y }
    } else if x < y {
        x
    } else {
        y
    }
}

/// Sprig's `round`: scales by `10^places`, then takes the ceiling when the fractional part is
/// at least `round_on` and the floor otherwise. The fractional part of a negative number is
/// negative, so every negative non-integer rounds down (`round -2.4 0` is -3: a Sprig quirk).
fn round(val: f64, places: i64, round_on: f64) -> f64 {
    let pow = go_pow10(places);
    let digit = pow * val;
    let rounded = if digit.fract() >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    rounded / pow
}

/// Go's `math.Pow(10, float64(n))`, whose repeated squaring on the mantissa can differ from
/// the platform `pow` in the last bit for large exponents.
fn go_pow10(n: i64) -> f64 {
    match n {
        0 => return 1.0,
        1 => return 10.0,
        _ => {}
    }
    let y = n as f64;
    let yi = y.abs();
    if yi >= -(i64::MIN as f64) {
        // |y| ≥ 2^63: overflow or underflow for 10.
        return if y > 0.0 { f64::INFINITY } else { 0.0 };
    }
    // Frexp(10) = 0.625 × 2^4.
    let (mut x1, mut xe) = (0.625f64, 4i64);
    let (mut a1, mut ae) = (1.0f64, 0i64);
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            // Catastrophic overflow: let ldexp handle it.
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    go_ldexp(a1, ae)
}

/// Go's `math.Ldexp`: `frac × 2^exp`, rounding once into the subnormal range.
fn go_ldexp(frac: f64, exp: i64) -> f64 {
    if frac == 0.0 || frac.is_infinite() || frac.is_nan() {
        return frac;
    }
    // normalize: subnormal inputs are scaled up first.
    let (mut frac, mut exp) = (frac, exp);
    if frac.abs() < f64::MIN_POSITIVE {
        frac *= (1u64 << 52) as f64;
        exp -= 52;
    }
    let mut bits = frac.to_bits();
    exp += ((bits >> 52) & 0x7ff) as i64 - 1023;
    if exp < -1075 {
        return 0.0f64.copysign(frac);
    }
    if exp > 1023 {
        return if frac < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let mut m = 1.0;
    if exp < -1022 {
        exp += 53;
        m = 1.0 / (1u64 << 53) as f64;
    }
    bits &= !(0x7ff << 52);
    bits |= ((exp + 1023) as u64) << 52;
    m * f64::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::{go_pow10, until_step};
    use crate::funcs::StandaloneContext;
    use crate::value::Value;

    #[test]
    fn conversions() {
        check("atoi", &[s("42")], i(42));
        check("atoi", &[s("-42")], i(-42));
        check("atoi", &[s("+7")], i(7));
        check("atoi", &[s("4.2")], i(0));
        check("atoi", &[s(" 1")], i(0));
        check("atoi", &[s("0x1f")], i(0));
        check("atoi", &[s("1_000")], i(0));
        check("atoi", &[s("")], i(0));
        check("atoi", &[s("-")], i(0));
        // Out of range: Atoi returns the clamped value with its error, which Sprig drops.
        check("atoi", &[s("99999999999999999999")], i(i64::MAX));
        check("atoi", &[s("-99999999999999999999")], i(i64::MIN));
        check("atoi", &[s("9223372036854775808")], i(i64::MAX));
        check("atoi", &[s("-9223372036854775808")], i(i64::MIN));
        // ParseUint reports overflow before it sees the bad trailing byte.
        check("atoi", &[s("99999999999999999999x")], i(i64::MAX));
        check("atoi", &[s("1000000000000000000x")], i(0));
        check("int", &[s("42")], i(42));
        check("int", &[f(3.9)], i(3));
        check("int64", &[s("0x10")], i64v(16));
        check("int64", &[s("3.0")], i64v(3));
        check("int64", &[b(true)], i64v(1));
        check("int64", &[nil()], i64v(0));
        check("float64", &[s("1.5")], f(1.5));
        check("float64", &[i(2)], f(2.0));
        check("float64", &[s("x")], f(0.0));
        check("toDecimal", &[s("0777")], i64v(511));
        check("toDecimal", &[s("777")], i64v(511));
        // The int literal 777 prints as "777" and is read as octal too.
        check("toDecimal", &[i(777)], i64v(511));
        check("toDecimal", &[s("-10")], i64v(-8));
        check("toDecimal", &[s("8")], i64v(0));
        check("toDecimal", &[s("0o7")], i64v(0));
        check("toDecimal", &[f(1.5)], i64v(0));
        check("toDecimal", &[nil()], i64v(0));
        check("toDecimal", &[s("777777777777777777777")], i64v(i64::MAX));
        // Out of range is an error, which Sprig turns into 0.
        check("toDecimal", &[s("1000000000000000000000")], i64v(0));
    }

    #[test]
    fn sequences() {
        check("until", &[i(5)], int_slice(&[0, 1, 2, 3, 4]));
        check("until", &[i(-3)], int_slice(&[0, -1, -2]));
        check("until", &[i(0)], int_slice(&[]));
        check("untilStep", &[i(3), i(6), i(2)], int_slice(&[3, 5]));
        check("untilStep", &[i(0), i(-4), i(-2)], int_slice(&[0, -2]));
        check("untilStep", &[i(0), i(10), i(0)], int_slice(&[]));
        check("untilStep", &[i(0), i(10), i(-1)], int_slice(&[]));
        check("untilStep", &[i(10), i(0), i(1)], int_slice(&[]));
        check("seq", &[i(3)], s("1 2 3"));
        check("seq", &[i(0)], s("1 0"));
        check("seq", &[i(-3)], s("1 0 -1 -2 -3"));
        check("seq", &[i(2), i(5)], s("2 3 4 5"));
        check("seq", &[i(5), i(2)], s("5 4 3 2"));
        check("seq", &[i(0), i(2), i(7)], s("0 2 4 6"));
        check("seq", &[i(7), i(-2), i(0)], s("7 5 3 1"));
        check("seq", &[i(7), i(2), i(0)], s(""));
        check("seq", &[i(0), i(-1), i(3)], s(""));
        check("seq", &[i(1), i(0), i(3)], s(""));
        check("seq", &[], s(""));
        check("seq", &[i(1), i(2), i(3), i(4)], s(""));
        // end+1 wraps: seq MaxInt64 counts from 1 to MinInt64, which is nothing.
        check("seq", &[i(i64::MAX)], s(""));
        assert!(until_step(0, i64::MAX, 1, |_| {}).is_err());
        check(
            "untilStep",
            &[i(i64::MAX - 2), i(i64::MAX), i(1)],
            int_slice(&[i64::MAX - 2, i64::MAX - 1]),
        );
    }

    #[test]
    fn integer_math() {
        check("add1", &[i(1)], i64v(2));
        check("add1", &[f(1.9)], i64v(2));
        check("add1", &[s("41")], i64v(42));
        check("add", &[], i64v(0));
        check("add", &[i(1), f(2.5), s("3")], i64v(6));
        check("add", &[i(i64::MAX), i(1)], i64v(i64::MIN));
        check("sub", &[i(3), f(1.0)], i64v(2));
        check("div", &[i(7), i(2)], i64v(3));
        check("div", &[i(-7), i(2)], i64v(-3));
        check("div", &[f(7.9), s("2")], i64v(3));
        check("div", &[i(i64::MIN), i(-1)], i64v(i64::MIN));
        check_err(
            "div",
            &[i(1), i(0)],
            "runtime error: integer divide by zero",
        );
        check_err(
            "div",
            &[i(1), s("zero")],
            "runtime error: integer divide by zero",
        );
        check("mod", &[i(7), i(3)], i64v(1));
        check("mod", &[i(-7), i(3)], i64v(-1));
        check("mod", &[i(i64::MIN), i(-1)], i64v(0));
        check_err(
            "mod",
            &[i(1), nil()],
            "runtime error: integer divide by zero",
        );
        check("mul", &[i(2)], i64v(2));
        check("mul", &[i(2), i(3), f(4.0)], i64v(24));
        check("max", &[i(1)], i64v(1));
        check("max", &[i(1), i(5), s("3")], i64v(5));
        check("biggest", &[i(-1), i(-5)], i64v(-1));
        check("min", &[i(1), i(5), f(-3.5)], i64v(-3));
    }

    #[test]
    fn rand_int_stays_in_range() {
        let f = funcs().get("randInt").unwrap();
        let mut ctx = StandaloneContext::default();
        for _ in 0..200 {
            match f.call(&mut ctx, &[i(-3), i(4)]).unwrap() {
                Value::Int(n) => assert!((-3..4).contains(&n)),
                other => panic!("{other:?}"),
            }
        }
        check("randInt", &[i(5), i(6)], i(5));
        check_err("randInt", &[i(5), i(5)], "invalid argument to Intn");
        check_err("randInt", &[i(5), i(1)], "invalid argument to Intn");
    }

    #[test]
    fn float_math_goes_through_decimals() {
        check("addf", &[f(1.1), f(2.2)], f(3.3));
        check("addf", &[f(0.1), f(0.2)], f(0.3));
        check("addf", &[], f(0.0));
        check("addf", &[i(1), s("1.5")], f(2.5));
        check("add1f", &[f(1.1)], f(2.1));
        check("subf", &[f(3.0), f(1.1), f(0.2)], f(1.7));
        check("subf", &[f(1.0)], f(1.0));
        check("mulf", &[f(1.1), f(3.0)], f(3.3));
        check("mulf", &[f(0.1), f(0.1)], f(0.01));
        check("divf", &[i(1), i(3)], f(0.3333333333333333));
        check("divf", &[i(2), i(3)], f(0.6666666666666667));
        check("divf", &[i(1), i(3), i(3)], f(0.1111111111111111));
        check("divf", &[f(10.0), f(4.0)], f(2.5));
        check_err("divf", &[i(1), i(0)], "decimal division by 0");
        check_err("addf", &[s("inf")], "Cannot create a Decimal from +Inf");
        check_err(
            "mulf",
            &[s("NaN"), i(1)],
            "Cannot create a Decimal from NaN",
        );
        // Results are never -0: a zero decimal has no sign.
        check("mulf", &[f(-0.0), i(1)], f(0.0));
    }

    #[test]
    fn float64_math() {
        check("maxf", &[f(1.5), i(2), s("0.5")], f(2.0));
        check("maxf", &[f(1.0), f(f64::NAN)], f(f64::NAN));
        check("maxf", &[f(f64::NAN), f(f64::INFINITY)], f(f64::INFINITY));
        check("maxf", &[f(-0.0), f(0.0)], f(0.0));
        check("minf", &[f(1.5), i(2), s("0.5")], f(0.5));
        check("minf", &[f(0.0), f(-0.0)], f(-0.0));
        check(
            "minf",
            &[f(f64::NAN), f(f64::NEG_INFINITY)],
            f(f64::NEG_INFINITY),
        );
        check("floor", &[f(1.5)], f(1.0));
        check("floor", &[s("-1.5")], f(-2.0));
        check("floor", &[i(3)], f(3.0));
        check("ceil", &[f(1.2)], f(2.0));
        check("ceil", &[f(-0.5)], f(-0.0));
        check("ceil", &[s("abc")], f(0.0));
    }

    #[test]
    fn round_follows_sprig() {
        check("round", &[f(3.7), i(0)], f(4.0));
        check("round", &[f(2.5), i(0)], f(3.0));
        check("round", &[f(2.4), i(0)], f(2.0));
        check("round", &[f(123.555555), i(3)], f(123.556));
        check("round", &[f(123.5555), i(3)], f(123.556));
        check("round", &[f(123.55), i(1)], f(123.6));
        check("round", &[s("1.23456"), i(2)], f(1.23));
        check("round", &[f(1234.5), i(-2)], f(1200.0));
        check("round", &[f(3.5), i(0), f(0.4)], f(4.0));
        check("round", &[f(3.3), i(0), f(0.4)], f(3.0));
        // 3.4 - 3 is 0.39999999999999991 in float64: below the 0.4 threshold.
        check("round", &[f(3.4), i(0), f(0.4)], f(3.0));
        // Sprig quirk: negative fractions are below the threshold, so they round down.
        check("round", &[f(-2.5), i(0)], f(-3.0));
        check("round", &[f(-2.4), i(0)], f(-3.0));
        check("round", &[f(-2.0), i(0)], f(-2.0));
    }

    #[test]
    fn pow10_matches_go() {
        for n in 0..=22 {
            assert_eq!(go_pow10(n), format!("1e{n}").parse::<f64>().unwrap(), "{n}");
            assert_eq!(go_pow10(-n), 1.0 / format!("1e{n}").parse::<f64>().unwrap());
        }
        assert_eq!(go_pow10(309), f64::INFINITY);
        assert_eq!(go_pow10(-400), 0.0);
        assert_eq!(go_pow10(i64::MAX), f64::INFINITY);
        assert_eq!(go_pow10(i64::MIN), 0.0);
        assert!(go_pow10(-320) > 0.0);
    }
}
