//! Sprig's hashes and secrets: `sha1sum`, `sha256sum`, `sha512sum`, `adler32sum`, `uuidv4`,
//! `randBytes`, `bcrypt`, `htpasswd`, `derivePassword`, `encryptAES`, `decryptAES`.
//!
//! Randomness (UUIDs, salts, IVs, random bytes) comes from the render's seeded generator, so
//! a render is reproducible; the formats are Go's.

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use hmac::Mac;
use sha1::Digest;

use super::encoding::{b64_decode, b64_encode, bytes_to_string};
use crate::funcs::{Context, Func, FuncError, FuncMap, Ty};
use crate::value::Value;

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// `hash/adler32.Checksum`.
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    b << 16 | a
}

/// Fills `buf` from the render's seeded generator.
pub fn random_bytes(ctx: &mut dyn Context, buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let r = ctx.random_u64().to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
}

/// A version 4 UUID (RFC 4122) from the seeded generator, as `uuid.New().String()` prints it.
pub fn uuid_v4(ctx: &mut dyn Context) -> String {
    let mut b = [0u8; 16];
    random_bytes(ctx, &mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The largest `randBytes` count accepted (Go has no limit but memory).
const MAX_RAND_BYTES: i64 = 64 << 20;

/// `golang.org/x/crypto/bcrypt.GenerateFromPassword(password, DefaultCost)` as Sprig
/// reports it.
pub fn bcrypt_hash(ctx: &mut dyn Context, password: &str) -> String {
    if password.len() > 72 {
        return "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
            .into();
    }
    let mut salt = [0u8; 16];
    random_bytes(ctx, &mut salt);
    match bcrypt::hash_with_salt(password, 10, salt) {
        Ok(parts) => parts.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

const MASTER_PASSWORD_SEED: &str = "com.lyndir.masterpassword";

fn password_templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_characters(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        b'x' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
        _ => b"",
    }
}

/// Sprig's `derivePassword` (the Master Password algorithm: scrypt, then HMAC-SHA256).
pub fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(templates) = password_templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = MASTER_PASSWORD_SEED.as_bytes().to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let derived = scrypt::Params::new(15, 8, 2, 64)
        .map_err(|e| e.to_string())
        .and_then(|params| {
            scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key).map_err(|e| e.to_string())
        });
    if let Err(e) = derived {
        return format!("failed to derive password: {e}");
    }
    let mut message = MASTER_PASSWORD_SEED.as_bytes().to_vec();
    message.extend_from_slice(&(site.len() as u32).to_be_bytes());
    message.extend_from_slice(site.as_bytes());
    message.extend_from_slice(&counter.to_be_bytes());
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&key) else {
        return "failed to derive password: hmac".into();
    };
    mac.update(&message);
    let seed = mac.finalize().into_bytes();
    let template = templates[usize::from(seed[0]) % templates.len()].as_bytes();
    let mut out = String::with_capacity(template.len());
    for (i, &element) in template.iter().enumerate() {
        let chars = template_characters(element);
        let pick = usize::from(seed.get(i + 1).copied().unwrap_or(0));
        if let Some(&c) = chars.get(pick % chars.len().max(1)) {
            out.push(char::from(c));
        }
    }
    out
}

fn aes_key(password: &str) -> aes::Aes256 {
    let mut key = [0u8; 32];
    let n = password.len().min(32);
    key[..n].copy_from_slice(&password.as_bytes()[..n]);
    aes::Aes256::new(&key.into())
}

/// Sprig's `encryptAES`: AES-256-CBC, PKCS#7 padding, a random IV first, base64.
pub fn encrypt_aes(ctx: &mut dyn Context, password: &str, plaintext: &str) -> String {
    if plaintext.is_empty() {
        return String::new();
    }
    let cipher = aes_key(password);
    let mut content = plaintext.as_bytes().to_vec();
    let padding = 16 - content.len() % 16;
    content.extend(std::iter::repeat_n(padding as u8, padding));
    let mut out = vec![0u8; 16];
    random_bytes(ctx, &mut out);
    let mut prev: [u8; 16] = [0; 16];
    prev.copy_from_slice(&out[..16]);
    for block in content.chunks(16) {
        let mut b = [0u8; 16];
        for (i, x) in b.iter_mut().enumerate() {
            *x = block[i] ^ prev[i];
        }
        let mut ga = b.into();
        cipher.encrypt_block(&mut ga);
        prev.copy_from_slice(&ga);
        out.extend_from_slice(&ga);
    }
    b64_encode(&out)
}

/// Sprig's `decryptAES`, with Go's runtime panics reported as errors.
pub fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, FuncError> {
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let crypt = b64_decode(crypt64).map_err(FuncError::new)?;
    if crypt.len() < 16 {
        let capacity = crypt64.len() / 4 * 3;
        return Err(FuncError::new(format!(
            "runtime error: slice bounds out of range [:16] with capacity {capacity}"
        )));
    }
    let (iv, body) = crypt.split_at(16);
    if body.len() % 16 != 0 {
        return Err(FuncError::new("crypto/cipher: input not full blocks"));
    }
    if body.is_empty() {
        return Err(FuncError::new("runtime error: index out of range [-1]"));
    }
    let cipher = aes_key(password);
    let mut prev: [u8; 16] = [0; 16];
    prev.copy_from_slice(iv);
    let mut plain = Vec::with_capacity(body.len());
    for block in body.chunks(16) {
        let mut ga: aes::Block = [0u8; 16].into();
        ga.copy_from_slice(block);
        cipher.decrypt_block(&mut ga);
        for i in 0..16 {
            plain.push(ga[i] ^ prev[i]);
        }
        prev.copy_from_slice(block);
    }
    let pad = usize::from(plain[plain.len() - 1]);
    let Some(end) = plain.len().checked_sub(pad) else {
        return Err(FuncError::new(format!(
            "runtime error: slice bounds out of range [:{}]",
            plain.len() as i64 - pad as i64
        )));
    };
    plain.truncate(end);
    Ok(bytes_to_string(plain))
}

fn str_arg(args: &[Value], i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or("")
}

pub fn register(map: &mut FuncMap) {
    use Ty::String as S;
    map.insert(
        "sha1sum",
        Func::pure(&[S], None, |a| {
            Ok(Value::from(hex(&sha1::Sha1::digest(str_arg(a, 0)))))
        }),
    );
    map.insert(
        "sha256sum",
        Func::pure(&[S], None, |a| {
            Ok(Value::from(hex(&sha2::Sha256::digest(str_arg(a, 0)))))
        }),
    );
    map.insert(
        "sha512sum",
        Func::pure(&[S], None, |a| {
            Ok(Value::from(hex(&sha2::Sha512::digest(str_arg(a, 0)))))
        }),
    );
    map.insert(
        "adler32sum",
        Func::pure(&[S], None, |a| {
            Ok(Value::from(adler32(str_arg(a, 0).as_bytes()).to_string()))
        }),
    );
    map.insert(
        "uuidv4",
        Func::new(&[], None, |ctx, _| Ok(Value::from(uuid_v4(ctx)))),
    );
    map.insert(
        "randBytes",
        Func::new(&[Ty::Int], None, |ctx, a| {
            let n = match a.first() {
                Some(Value::Int(n)) => *n,
                _ => 0,
            };
            if n < 0 {
                return Err(FuncError::new("runtime error: makeslice: len out of range"));
            }
            // The base64 text is 4/3 as long as the bytes.
            let max = ctx.max_result_bytes().min(MAX_RAND_BYTES as usize);
            if (n as u128) * 4 / 3 > max as u128 {
                return Err(FuncError::new(format!(
                    "randBytes: {n} bytes is larger than the maximum output size ({max} bytes)"
                )));
            }
            let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
            random_bytes(ctx, &mut buf);
            Ok(Value::from(b64_encode(&buf)))
        }),
    );
    map.insert(
        "bcrypt",
        Func::new(&[S], None, |ctx, a| {
            Ok(Value::from(bcrypt_hash(ctx, str_arg(a, 0))))
        }),
    );
    map.insert(
        "htpasswd",
        Func::new(&[S, S], None, |ctx, a| {
            let user = str_arg(a, 0);
            if user.contains(':') {
                return Ok(Value::from(format!("invalid username: {user}")));
            }
            Ok(Value::from(format!(
                "{user}:{}",
                bcrypt_hash(ctx, str_arg(a, 1))
            )))
        }),
    );
    map.insert(
        "derivePassword",
        Func::pure(&[Ty::Int, S, S, S, S], None, |a| {
            // A uint32 parameter: Go accepts only unsigned integer constants and keeps the
            // low 32 bits.
            let counter = match a.first() {
                Some(Value::Int(n)) if *n >= 0 => *n as u32,
                Some(Value::Int(n)) => {
                    return Err(FuncError::new(format!(
                        "expected unsigned integer; found {n}"
                    )));
                }
                _ => 0,
            };
            Ok(Value::from(derive_password(
                counter,
                str_arg(a, 1),
                str_arg(a, 2),
                str_arg(a, 3),
                str_arg(a, 4),
            )))
        }),
    );
    map.insert(
        "encryptAES",
        Func::new(&[S, S], None, |ctx, a| {
            Ok(Value::from(encrypt_aes(ctx, str_arg(a, 0), str_arg(a, 1))))
        }),
    );
    map.insert(
        "decryptAES",
        Func::pure(&[S, S], None, |a| {
            decrypt_aes(str_arg(a, 0), str_arg(a, 1)).map(Value::from)
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::super::testing::{call, i, s, show};
    use super::*;
    use crate::funcs::StandaloneContext;

    fn check(name: &str, args: &[Value], want: &str) {
        assert_eq!(show(name, args).as_deref(), Ok(want), "{name} {args:?}");
    }

    #[test]
    fn hashes_from_sprig_tests() {
        check(
            "sha1sum",
            &[s("abc")],
            "a9993e364706816aba3e25717850c26c9cd0d89d",
        );
        check(
            "sha256sum",
            &[s("abc")],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        );
        check(
            "sha512sum",
            &[s("abc")],
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        );
        check("adler32sum", &[s("abc")], "38600999");
        check("adler32sum", &[s("")], "1");
        check(
            "sha256sum",
            &[s("")],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        );
    }

    #[test]
    fn uuid_and_random_bytes_are_seeded() {
        let u = show("uuidv4", &[]).unwrap();
        assert_eq!(u.len(), 36);
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"));
        // The standalone context always starts from the same seed.
        assert_eq!(show("uuidv4", &[]).unwrap(), u);
        let r = show("randBytes", &[i(12)]).unwrap();
        assert_eq!(r.len(), 16);
        assert_eq!(b64_decode(&r).unwrap().len(), 12);
        check("randBytes", &[i(0)], "");
        assert_eq!(
            show("randBytes", &[i(-1)]),
            Err("runtime error: makeslice: len out of range".into())
        );
    }

    #[test]
    fn bcrypt_and_htpasswd() {
        let h = show("htpasswd", &[s("myUser"), s("myPassword")]).unwrap();
        let (user, hash) = h.split_once(':').unwrap();
        assert_eq!(user, "myUser");
        assert!(hash.starts_with("$2a$10$"), "{hash}");
        assert_eq!(hash.len(), 60);
        assert!(bcrypt::verify("myPassword", hash).unwrap());
        check(
            "htpasswd",
            &[s("my:User"), s("p")],
            "invalid username: my:User",
        );
        check(
            "bcrypt",
            &[s(&"x".repeat(73))],
            "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes",
        );
    }

    #[test]
    fn derive_password_from_sprig_tests() {
        // Sprig's TestDerivePassword vectors.
        for (counter, kind, want) in [
            (1, "long", "ZedaFaxcZaso9*"),
            (2, "long", "Fovi2@JifpTupx"),
            (1, "maximum", "pf4zS1LjCg&LjhsZ7T2~"),
            (1, "medium", "ZedJuz8$"),
            (1, "basic", "pIS54PLs"),
            (1, "short", "Zed5"),
            (1, "pin", "6685"),
        ] {
            check(
                "derivePassword",
                &[
                    i(counter),
                    s(kind),
                    s("password"),
                    s("user"),
                    s("example.com"),
                ],
                want,
            );
        }
        check(
            "derivePassword",
            &[i(1), s("nope"), s("password"), s("user"), s("example.com")],
            "cannot find password template nope",
        );
    }

    #[test]
    fn aes_round_trip_and_go_panics() {
        let enc = show("encryptAES", &[s("secretkey"), s("plaintext")]).unwrap();
        assert_eq!(b64_decode(&enc).unwrap().len(), 32);
        check("decryptAES", &[s("secretkey"), s(&enc)], "plaintext");
        check("encryptAES", &[s("k"), s("")], "");
        check("decryptAES", &[s("k"), s("")], "");
        let mut ctx = StandaloneContext::default();
        let long = encrypt_aes(&mut ctx, &"k".repeat(40), &"x".repeat(16));
        assert_eq!(decrypt_aes(&"k".repeat(40), &long).unwrap(), "x".repeat(16));
        assert_eq!(
            show("decryptAES", &[s("k"), s("YWJj")]),
            Err("runtime error: slice bounds out of range [:16] with capacity 3".into())
        );
        assert_eq!(
            show("decryptAES", &[s("k"), s("!")]),
            Err("illegal base64 data at input byte 0".into())
        );
        let iv_only = b64_encode(&[0u8; 16]);
        assert_eq!(
            show("decryptAES", &[s("k"), s(&iv_only)]),
            Err("runtime error: index out of range [-1]".into())
        );
        let ragged = b64_encode(&[0u8; 20]);
        assert_eq!(
            show("decryptAES", &[s("k"), s(&ragged)]),
            Err("crypto/cipher: input not full blocks".into())
        );
        let _ = call;
    }
}
