//! Go's `strconv.FormatFloat` for float64: the `%e %f %g %b %x` formats with Go's shortest
//! (round-trip) digits when the precision is negative and exact, round-half-to-even digits
//! otherwise, as Go's Ryu and multiprecision paths produce them.

use std::fmt::Write as _;

/// Decimal digits of a float's magnitude: `0.d1d2d3… × 10^dp`, no trailing zeros; zero has no
/// digits and `dp == 0` (Go's `decimalSlice`).
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

impl Digits {
    fn nd(&self) -> i32 {
        self.d.len() as i32
    }

    /// Parses Rust's `{:e}` output (`d.ddde±x`) of a finite non-negative number.
    fn from_exp_string(s: &str) -> Digits {
        let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut d: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
        while d.last() == Some(&b'0') {
            d.pop();
        }
        if d.is_empty() {
            return Digits { d, dp: 0 };
        }
        Digits { d, dp: exp + 1 }
    }

    /// The shortest digits that read back as `f` (Go's `ryuFtoaShortest`).
    fn shortest(f: f64) -> Digits {
        if f == 0.0 {
            return Digits {
                d: Vec::new(),
                dp: 0,
            };
        }
        Digits::from_exp_string(&format!("{f:e}"))
    }

    /// `f` correctly rounded (half to even) to `n >= 1` significant digits.
    fn fixed(f: f64, n: usize) -> Digits {
        if f == 0.0 {
            return Digits {
                d: Vec::new(),
                dp: 0,
            };
        }
        // A float64 has at most 767 significant decimal digits: more are zeros, which the
        // digits leave out anyway (and Rust's formatter takes at most 65535).
        let n = n.clamp(1, 800);
        Digits::from_exp_string(&format!("{:.*e}", n - 1, f))
    }
}

/// `strconv.FormatFloat(f, fmt, prec, 64)`. `fmt` is one of `b e E f g G x X`; a negative
/// `prec` asks for the fewest digits that read back exactly. Any other `fmt` yields `%` and the
/// format byte, as Go does.
pub fn format_float(f: f64, fmt: u8, prec: i32) -> String {
    let mut out = String::new();
    append_float(&mut out, f, fmt, prec);
    out
}

/// Appends `strconv.FormatFloat(f, fmt, prec, 64)` to `out`.
pub fn append_float(out: &mut String, f: f64, fmt: u8, prec: i32) {
    let bits = f.to_bits();
    let neg = bits >> 63 != 0;
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp_bits == 0x7ff {
        out.push_str(if mant != 0 {
            "NaN"
        } else if neg {
            "-Inf"
        } else {
            "+Inf"
        });
        return;
    }
    let mut exp = exp_bits;
    if exp == 0 {
        exp += 1; // denormal
    } else {
        mant |= 1u64 << 52;
    }
    exp -= 1023;

    match fmt {
        b'b' => return fmt_b(out, neg, mant, exp),
        b'x' | b'X' => return fmt_x(out, prec, fmt, neg, mant, exp),
        b'e' | b'E' | b'f' | b'g' | b'G' => {}
        other => {
            out.push('%');
            out.push(char::from(other));
            return;
        }
    }

    let abs = f.abs();
    let shortest = prec < 0;
    let mut prec = prec;
    let digs = if shortest {
        let digs = Digits::shortest(abs);
        prec = match fmt {
            b'e' | b'E' => (digs.nd() - 1).max(0),
            b'f' => (digs.nd() - digs.dp).max(0),
            _ => digs.nd(),
        };
        digs
    } else {
        match fmt {
            b'e' | b'E' => Digits::fixed(abs, prec as usize + 1),
            b'g' | b'G' => {
                if prec == 0 {
                    prec = 1;
                }
                Digits::fixed(abs, prec as usize)
            }
            _ => {
                // %f with a precision: Rust's fixed formatting rounds exactly, half to even.
                if neg {
                    out.push('-');
                }
                // A float64 has at most 1074 fraction digits: past them, only zeros.
                let exact = (prec as usize).min(1100);
                let _ = write!(out, "{:.*}", exact, abs);
                for _ in exact..prec as usize {
                    out.push('0');
                }
                return;
            }
        }
    };
    format_digits(out, shortest, neg, &digs, prec, fmt);
}

fn format_digits(out: &mut String, shortest: bool, neg: bool, digs: &Digits, prec: i32, fmt: u8) {
    match fmt {
        b'e' | b'E' => fmt_e(out, neg, digs, prec, fmt),
        b'f' => fmt_f(out, neg, digs, prec),
        _ => {
            // %g: trailing fractional zeros in the 'e' form are trimmed.
            let mut eprec = prec;
            if eprec > digs.nd() && digs.nd() >= digs.dp {
                eprec = digs.nd();
            }
            // %e is used if the exponent from the conversion is less than -4 or greater than
            // or equal to the precision; shortest output decides with precision 6.
            if shortest {
                eprec = 6;
            }
            let exp = digs.dp - 1;
            let mut prec = prec;
            if exp < -4 || exp >= eprec {
                if prec > digs.nd() {
                    prec = digs.nd();
                }
                let efmt = if fmt == b'G' { b'E' } else { b'e' };
                fmt_e(out, neg, digs, prec - 1, efmt);
                return;
            }
            if prec > digs.dp {
                prec = digs.nd();
            }
            fmt_f(out, neg, digs, (prec - digs.dp).max(0));
        }
    }
}

/// `%e`: `-d.ddddde±dd`.
fn fmt_e(out: &mut String, neg: bool, digs: &Digits, prec: i32, fmt: u8) {
    if neg {
        out.push('-');
    }
    out.push(char::from(digs.d.first().copied().unwrap_or(b'0')));
    if prec > 0 {
        out.push('.');
        let m = digs.d.len().min(prec as usize + 1);
        for &c in digs.d.get(1..m).unwrap_or(&[]) {
            out.push(char::from(c));
        }
        for _ in m.max(1)..=prec as usize {
            out.push('0');
        }
    }
    out.push(char::from(fmt));
    let mut exp = digs.dp - 1;
    if digs.d.is_empty() {
        exp = 0;
    }
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    let _ = write!(out, "{exp}");
}

/// `%f`: `-ddddddd.ddddd`.
fn fmt_f(out: &mut String, neg: bool, digs: &Digits, prec: i32) {
    if neg {
        out.push('-');
    }
    if digs.dp > 0 {
        let m = digs.d.len().min(digs.dp as usize);
        for &c in &digs.d[..m] {
            out.push(char::from(c));
        }
        for _ in m..digs.dp as usize {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec {
            let j = digs.dp + i;
            let c = if j >= 0 {
                digs.d.get(j as usize).copied().unwrap_or(b'0')
            } else {
                b'0'
            };
            out.push(char::from(c));
        }
    }
}

/// `%b`: `-ddddddddp±ddd`, the mantissa and the binary exponent.
fn fmt_b(out: &mut String, neg: bool, mant: u64, exp: i32) {
    if neg {
        out.push('-');
    }
    let exp = exp - 52;
    let _ = write!(out, "{mant}p");
    if exp >= 0 {
        out.push('+');
    }
    let _ = write!(out, "{exp}");
}

/// `%x`: `-0x1.yyyyyyyyp±ddd` or `-0x0p+00`.
fn fmt_x(out: &mut String, prec: i32, fmt: u8, neg: bool, mut mant: u64, mut exp: i32) {
    if mant == 0 {
        exp = 0;
    }
    // Shift digits so the leading 1 (if any) is at bit 1<<60.
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    // Round if requested.
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            // Wrapped around.
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if fmt == b'X' {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    if neg {
        out.push('-');
    }
    out.push('0');
    out.push(char::from(fmt));
    out.push(char::from(b'0' + ((mant >> 60) & 1) as u8));
    mant <<= 4; // remove the leading 0 or 1
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    }
    out.push(if fmt == b'X' { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    let _ = write!(out, "{exp}");
}
