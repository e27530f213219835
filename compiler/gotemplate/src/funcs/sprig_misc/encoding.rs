//! Go's `encoding/base64` and `encoding/base32` standard encodings, with their exact decode
//! errors, and Sprig's `b64enc`, `b64dec`, `b32enc`, `b32dec` (which return the error text
//! instead of failing).
//!
//! Go strings are bytes; template strings here are UTF-8, so decoded bytes that are not
//! valid UTF-8 are replaced by U+FFFD.

use crate::funcs::{Func, FuncMap, Ty};
use crate::value::Value;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `base64.StdEncoding.EncodeToString`.
pub fn b64_encode(src: &[u8]) -> String {
    let mut out = String::with_capacity(src.len().div_ceil(3) * 4);
    for chunk in src.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[(v >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64_value(c: u8) -> Option<u32> {
    B64.iter().position(|&x| x == c).map(|p| p as u32)
}

/// `CorruptInputError`'s message.
fn corrupt(at: usize) -> String {
    format!("illegal base64 data at input byte {at}")
}

/// base32's `CorruptInputError` message.
fn corrupt32(at: usize) -> String {
    format!("illegal base32 data at input byte {at}")
}

/// `base64.StdEncoding.DecodeString`: padding required, `\r` and `\n` ignored.
pub fn b64_decode(s: &str) -> Result<Vec<u8>, String> {
    let src = s.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    while si < src.len() {
        // One quantum (Go's `decodeQuantum`).
        let mut dbuf = [0u32; 4];
        let mut dlen = 4;
        let mut j = 0;
        let mut trailing_err = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(corrupt(si - j));
            }
            let c = src[si];
            si += 1;
            if let Some(v) = b64_value(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(corrupt(si - 1));
            }
            match j {
                0 | 1 => return Err(corrupt(si - 1)),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(corrupt(src.len()));
                    }
                    if src[si] != b'=' {
                        return Err(corrupt(si - 1));
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                trailing_err = Some(corrupt(si));
            }
            dlen = j;
            break;
        }
        let val = dbuf[0] << 18 | dbuf[1] << 12 | dbuf[2] << 6 | dbuf[3];
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(e) = trailing_err {
            return Err(e);
        }
    }
    Ok(out)
}

/// `base32.StdEncoding.EncodeToString`.
pub fn b32_encode(src: &[u8]) -> String {
    let mut out = String::with_capacity(src.len().div_ceil(5) * 8);
    for chunk in src.chunks(5) {
        let mut b = [0u8; 5];
        b[..chunk.len()].copy_from_slice(chunk);
        let v = b.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x));
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(char::from(B32[(v >> (35 - 5 * i) & 31) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `base32.StdEncoding.DecodeString`: newlines are stripped first, then Go's `decode`.
pub fn b32_decode(s: &str) -> Result<Vec<u8>, String> {
    let src: Vec<u8> = s.bytes().filter(|&c| c != b'\n' && c != b'\r').collect();
    let olen = src.len();
    let mut rest: &[u8] = &src;
    let mut out = Vec::with_capacity(olen / 8 * 5);
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut dbuf = [0u64; 8];
        let mut dlen = 8;
        let mut j = 0;
        while j < 8 {
            let Some((&c, tail)) = rest.split_first() else {
                return Err(corrupt32(olen - rest.len() - j));
            };
            rest = tail;
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 7 {
                    return Err(corrupt32(olen));
                }
                for k in 0..7 - j {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(corrupt32(olen - rest.len() + k - 1));
                    }
                }
                dlen = j;
                end = true;
                if matches!(dlen, 1 | 3 | 6) {
                    return Err(corrupt32(olen - rest.len() - 1));
                }
                break;
            }
            match B32.iter().position(|&x| x == c) {
                Some(v) => dbuf[j] = v as u64,
                None => return Err(corrupt32(olen - rest.len() - 1)),
            }
            j += 1;
        }
        let v = dbuf.iter().fold(0u64, |acc, &x| acc << 5 | x);
        let bytes = [
            (v >> 32) as u8,
            (v >> 24) as u8,
            (v >> 16) as u8,
            (v >> 8) as u8,
            v as u8,
        ];
        let n = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..n]);
    }
    Ok(out)
}

/// Go's `string(bytes)` for a template string.
pub fn bytes_to_string(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn arg(a: &[Value]) -> &str {
    a.first().and_then(Value::as_str).unwrap_or("")
}

pub fn register(map: &mut FuncMap) {
    map.insert(
        "b64enc",
        Func::pure(&[Ty::String], None, |a| {
            Ok(Value::from(b64_encode(arg(a).as_bytes())))
        }),
    );
    map.insert(
        "b64dec",
        Func::pure(&[Ty::String], None, |a| {
            Ok(Value::from(match b64_decode(arg(a)) {
                Ok(b) => bytes_to_string(b),
                Err(e) => e,
            }))
        }),
    );
    map.insert(
        "b32enc",
        Func::pure(&[Ty::String], None, |a| {
            Ok(Value::from(b32_encode(arg(a).as_bytes())))
        }),
    );
    map.insert(
        "b32dec",
        Func::pure(&[Ty::String], None, |a| {
            Ok(Value::from(match b32_decode(arg(a)) {
                Ok(b) => bytes_to_string(b),
                Err(e) => e,
            }))
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::super::testing::{s, show};

    fn check(name: &str, input: &str, want: &str) {
        assert_eq!(
            show(name, &[s(input)]).as_deref(),
            Ok(want),
            "{name} {input:?}"
        );
    }

    #[test]
    fn base64() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("abc123!?$*&()'-=@~", "YWJjMTIzIT8kKiYoKSctPUB+"),
        ] {
            check("b64enc", plain, enc);
            check("b64dec", enc, plain);
        }
        check("b64dec", "Zm9v\nYmFy\r\n", "foobar");
        check("b64dec", "Zm9vYg", "illegal base64 data at input byte 4");
        check("b64dec", "Zm9", "illegal base64 data at input byte 0");
        check("b64dec", "Zm9v!", "illegal base64 data at input byte 4");
        check("b64dec", "Zg=", "illegal base64 data at input byte 3");
        check("b64dec", "Zg==Zg==", "illegal base64 data at input byte 4");
        check("b64dec", "=", "illegal base64 data at input byte 0");
        check("b64dec", "Zm9=v", "illegal base64 data at input byte 4");
        // Bytes that are not UTF-8 become U+FFFD.
        check("b64dec", "/w==", "\u{FFFD}");
    }

    #[test]
    fn base32() {
        for (plain, enc) in [
            ("", ""),
            ("f", "MY======"),
            ("fo", "MZXQ===="),
            ("foo", "MZXW6==="),
            ("foob", "MZXW6YQ="),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI======"),
        ] {
            check("b32enc", plain, enc);
            check("b32dec", enc, plain);
        }
        check("b32dec", "MZXW\n6YTB", "fooba");
        check("b32dec", "MZXW6", "illegal base32 data at input byte 0");
        check("b32dec", "MY=====", "illegal base32 data at input byte 7");
        check("b32dec", "M1======", "illegal base32 data at input byte 1");
        check("b32dec", "MZX=====", "illegal base32 data at input byte 3");
    }
}
