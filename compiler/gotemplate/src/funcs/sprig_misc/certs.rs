//! Sprig's private keys and X.509 certificates: `genPrivateKey`, `buildCustomCert`, `genCA`,
//! `genCAWithKey`, `genSelfSignedCert`, `genSelfSignedCertWithKey`, `genSignedCert`,
//! `genSignedCertWithKey`.
//!
//! Certificates are laid out as Go's `x509.CreateCertificate` lays out Sprig's template
//! (serial, validity from the render clock, key usages, extended key usages, basic
//! constraints, subject and authority key ids, SANs), keys are PEM-encoded as Go encodes them,
//! and all randomness comes from the render's seeded generator. DSA keys are not supported:
//! Go cannot sign certificates with them either, and generating their parameters is slow.

use std::sync::Arc;

use rand_core::{CryptoRng, RngCore};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{SignatureEncoding, Signer};
use sha1::Digest;

use super::date::GoTime;
use super::encoding::{b64_decode, b64_encode};
use crate::funcs::{Context, Func, FuncError, FuncMap, Ty};
use crate::value::{Map, Object, Value};

/// The render's seeded generator as a `rand_core` RNG.
struct CtxRng<'a>(&'a mut dyn Context);

impl RngCore for CtxRng<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.random_u64() as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0.random_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        super::crypto::random_bytes(self.0, dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for CtxRng<'_> {}

/// A private key Sprig can generate or parse.
enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ecdsa(p256::SecretKey),
    Ed25519(ed25519_dalek::SigningKey),
    /// A DSA key (parsed, never usable for signing).
    Dsa,
}

// --- DER ---------------------------------------------------------------------------------

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut v = arc >> 7;
        while v > 0 {
            chunk.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    der(0x06, &body)
}

/// A non-negative INTEGER from big-endian magnitude bytes.
fn uint(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let mut body = bytes[skip..].to_vec();
    if body.first().is_none_or(|&b| b & 0x80 != 0) {
        body.insert(0, 0);
    }
    der(0x02, &body)
}

fn bit_string(bytes: &[u8], unused: u8) -> Vec<u8> {
    let mut body = vec![unused];
    body.extend_from_slice(bytes);
    der(0x03, &body)
}

/// Go's `asn1` string choice: PrintableString when possible, else UTF8String.
fn directory_string(s: &str) -> Vec<u8> {
    let printable = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
    der(if printable { 0x13 } else { 0x0c }, s.as_bytes())
}

/// A Name with only a common name (empty when `cn` is empty, as Go's `pkix.Name`).
fn name(cn: &str) -> Vec<u8> {
    if cn.is_empty() {
        return seq(&[]);
    }
    let atv = seq(&[&oid(&[2, 5, 4, 3]), &directory_string(cn)]);
    seq(&[&der(0x31, &atv)])
}

/// UTCTime for 1950–2049, GeneralizedTime otherwise (as Go marshals `time.Time`).
fn der_time(t: &GoTime) -> Vec<u8> {
    let utc = t.with_loc(super::date::Location::Utc);
    let year: i64 = utc.format("2006").parse().unwrap_or(0);
    if (1950..2050).contains(&year) {
        der(0x17, utc.format("060102150405Z").as_bytes())
    } else {
        der(0x18, utc.format("20060102150405Z").as_bytes())
    }
}

/// A parsed TLV: tag, content, and the whole encoding.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    raw: &'a [u8],
}

fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = len << 8 | usize::from(*input.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let raw = input.get(..end)?;
    Some((
        Tlv {
            tag,
            content: &raw[header..],
            raw,
        },
        &input[end..],
    ))
}

/// What `genSignedCert` needs from a CA certificate.
struct ParsedCert {
    raw_subject: Vec<u8>,
    subject_key_id: Vec<u8>,
}

const MALFORMED: &str = "x509: malformed certificate";

fn parse_certificate(der_bytes: &[u8]) -> Result<ParsedCert, String> {
    let bad = || MALFORMED.to_string();
    let (cert, rest) = read_tlv(der_bytes).ok_or_else(bad)?;
    if cert.tag != 0x30 || !rest.is_empty() {
        return Err(bad());
    }
    let (tbs, rest) = read_tlv(cert.content).ok_or_else(bad)?;
    let (alg, rest) = read_tlv(rest).ok_or_else(bad)?;
    let (sig, _) = read_tlv(rest).ok_or_else(bad)?;
    if tbs.tag != 0x30 || alg.tag != 0x30 || sig.tag != 0x03 {
        return Err(bad());
    }
    let mut fields = tbs.content;
    let mut next = || -> Result<Tlv<'_>, String> {
        let (t, rest) = read_tlv(fields).ok_or_else(bad)?;
        fields = rest;
        Ok(t)
    };
    let mut first = next()?;
    if first.tag == 0xa0 {
        first = next()?;
    }
    let _serial = first;
    let _alg = next()?;
    let _issuer = next()?;
    let _validity = next()?;
    let subject = next()?;
    let _spki = next()?;
    let raw_subject = subject.raw.to_vec();
    let mut subject_key_id = Vec::new();
    while let Ok(t) = next() {
        if t.tag != 0xa3 {
            continue;
        }
        let (exts, _) = read_tlv(t.content).ok_or_else(bad)?;
        let mut list = exts.content;
        while let Some((ext, rest)) = read_tlv(list) {
            list = rest;
            let (id, mut body) = read_tlv(ext.content).ok_or_else(bad)?;
            if id.raw != oid(&[2, 5, 29, 14]).as_slice() {
                continue;
            }
            let (mut value, after) = read_tlv(body).ok_or_else(bad)?;
            if value.tag == 0x01 {
                body = after;
                value = read_tlv(body).ok_or_else(bad)?.0;
            }
            let (inner, _) = read_tlv(value.content).ok_or_else(bad)?;
            subject_key_id = inner.content.to_vec();
        }
    }
    Ok(ParsedCert {
        raw_subject,
        subject_key_id,
    })
}

// --- PEM ---------------------------------------------------------------------------------

/// `pem.EncodeToMemory`.
fn pem_encode(kind: &str, bytes: &[u8]) -> String {
    let b64 = b64_encode(bytes);
    let mut out = format!("-----BEGIN {kind}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out.push_str(&format!("-----END {kind}-----\n"));
    out
}

/// A simplified `pem.Decode`: the first block's type and bytes.
fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let after = &text[start + 11..];
    let type_end = after.find("-----")?;
    let kind = &after[..type_end];
    let body_start = &after[type_end + 5..];
    let end_marker = format!("-----END {kind}-----");
    let body_end = body_start.find(&end_marker)?;
    let body: String = body_start[..body_end]
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    let bytes = b64_decode(&body).ok()?;
    Some((kind.to_string(), bytes))
}

/// Go's `x509.MarshalECPrivateKey`: SEC 1 with the named curve and the public key.
fn ec_private_key(key: &p256::SecretKey) -> Vec<u8> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let point = key.public_key().to_encoded_point(false);
    seq(&[
        &der(0x02, &[1]),
        &der(0x04, &key.to_bytes()),
        &der(0xa0, &oid(&[1, 2, 840, 10045, 3, 1, 7])),
        &der(0xa1, &bit_string(point.as_bytes(), 0)),
    ])
}

fn ed25519_pkcs8(key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    let seed = der(0x04, &der(0x04, key.as_bytes()));
    seq(&[&der(0x02, &[0]), &seq(&[&oid(&[1, 3, 101, 112])]), &seed])
}

impl Key {
    fn generate(ctx: &mut dyn Context, kind: &str) -> Result<Key, String> {
        let mut rng = CtxRng(ctx);
        match kind {
            "" | "rsa" => rsa::RsaPrivateKey::new(&mut rng, 4096)
                .map(|k| Key::Rsa(Box::new(k)))
                .map_err(|e| format!("failed to generate private key: {e}")),
            "ecdsa" => Ok(Key::Ecdsa(p256::SecretKey::random(&mut rng))),
            "ed25519" => {
                let mut seed = [0u8; 32];
                rng.fill_bytes(&mut seed);
                Ok(Key::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
            "dsa" => Err("failed to generate dsa params: DSA keys are not supported".into()),
            other => Err(format!("Unknown type {other}")),
        }
    }

    fn rsa2048(ctx: &mut dyn Context) -> Result<Key, String> {
        rsa::RsaPrivateKey::new(&mut CtxRng(ctx), 2048)
            .map(|k| Key::Rsa(Box::new(k)))
            .map_err(|e| format!("error generating rsa key: {e}"))
    }

    /// `pemBlockForKey` + `pem.EncodeToMemory`.
    fn to_pem(&self) -> Result<String, String> {
        match self {
            Key::Rsa(k) => k
                .to_pkcs1_der()
                .map(|d| pem_encode("RSA PRIVATE KEY", d.as_bytes()))
                .map_err(|e| e.to_string()),
            Key::Ecdsa(k) => Ok(pem_encode("EC PRIVATE KEY", &ec_private_key(k))),
            Key::Ed25519(k) => Ok(pem_encode("PRIVATE KEY", &ed25519_pkcs8(k))),
            Key::Dsa => Err("DSA keys are not supported".into()),
        }
    }

    /// Sprig's `parsePrivateKeyPEM`.
    fn parse_pem(text: &str) -> Result<Key, String> {
        let (kind, bytes) = pem_decode(text).ok_or("no PEM data in input")?;
        if kind == "PRIVATE KEY" {
            return Key::parse_pkcs8(&bytes).map_err(|e| format!("decoding PEM as PKCS#8: {e}"));
        }
        let Some(prefix) = kind.strip_suffix(" PRIVATE KEY") else {
            return Err(format!("no private key data in PEM block of type {kind}"));
        };
        match prefix {
            "RSA" => rsa::RsaPrivateKey::from_pkcs1_der(&bytes)
                .map(|k| Key::Rsa(Box::new(k)))
                .map_err(|e| format!("parsing RSA private key from PEM: {e}")),
            "EC" => p256::SecretKey::from_sec1_der(&bytes)
                .map(Key::Ecdsa)
                .map_err(|e| format!("parsing EC private key from PEM: {e}")),
            "DSA" => Ok(Key::Dsa),
            _ => Err(format!("invalid private key type {kind}")),
        }
    }

    fn parse_pkcs8(bytes: &[u8]) -> Result<Key, String> {
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(bytes) {
            return Ok(Key::Rsa(Box::new(k)));
        }
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(bytes) {
            return Ok(Key::Ecdsa(k));
        }
        // Ed25519: SEQUENCE { INTEGER, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET
        // STRING seed } ... }.
        let parsed = (|| {
            let (outer, _) = read_tlv(bytes)?;
            let (_version, rest) = read_tlv(outer.content)?;
            let (alg, rest) = read_tlv(rest)?;
            let (id, _) = read_tlv(alg.content)?;
            if id.raw != oid(&[1, 3, 101, 112]).as_slice() {
                return None;
            }
            let (octets, _) = read_tlv(rest)?;
            let (seed, _) = read_tlv(octets.content)?;
            let seed: [u8; 32] = seed.content.try_into().ok()?;
            Some(ed25519_dalek::SigningKey::from_bytes(&seed))
        })();
        parsed
            .map(Key::Ed25519)
            .ok_or_else(|| "x509: failed to parse private key".to_string())
    }

    fn spki(&self) -> Result<Vec<u8>, String> {
        match self {
            Key::Rsa(k) => k
                .to_public_key()
                .to_public_key_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|e| e.to_string()),
            Key::Ecdsa(k) => k
                .public_key()
                .to_public_key_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|e| e.to_string()),
            Key::Ed25519(k) => Ok(seq(&[
                &seq(&[&oid(&[1, 3, 101, 112])]),
                &bit_string(k.verifying_key().as_bytes(), 0),
            ])),
            Key::Dsa => Err("unsupported".into()),
        }
    }

    fn signature_algorithm(&self) -> Vec<u8> {
        match self {
            Key::Rsa(_) => seq(&[&oid(&[1, 2, 840, 113_549, 1, 1, 11]), &der(0x05, &[])]),
            Key::Ecdsa(_) => seq(&[&oid(&[1, 2, 840, 10045, 4, 3, 2])]),
            Key::Ed25519(_) | Key::Dsa => seq(&[&oid(&[1, 3, 101, 112])]),
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Key::Rsa(k) => {
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone());
                Ok(signer.sign(message).to_vec())
            }
            Key::Ecdsa(k) => {
                let signer = p256::ecdsa::SigningKey::from(k);
                let sig: p256::ecdsa::Signature = signer.sign(message);
                Ok(sig.to_der().as_bytes().to_vec())
            }
            Key::Ed25519(k) => Ok(k.sign(message).to_bytes().to_vec()),
            Key::Dsa => {
                Err("x509: certificate private key does not implement crypto.Signer".into())
            }
        }
    }
}

/// The subject public key bits of an SPKI (for Go's generated subject key id).
fn spki_key_bits(spki: &[u8]) -> Vec<u8> {
    let parsed = (|| {
        let (outer, _) = read_tlv(spki)?;
        let (_alg, rest) = read_tlv(outer.content)?;
        let (bits, _) = read_tlv(rest)?;
        bits.content.get(1..).map(<[u8]>::to_vec)
    })();
    parsed.unwrap_or_default()
}

/// Sprig's certificate template, filled in.
struct Template {
    cn: String,
    ips: Vec<Vec<u8>>,
    dns: Vec<String>,
    days_valid: i64,
    is_ca: bool,
}

/// Go's `net.ParseIP`, as 4 bytes for IPv4 (what `x509` writes) or 16 for IPv6.
fn parse_ip(s: &str) -> Option<Vec<u8>> {
    if let Ok(v4) = s.parse::<std::net::Ipv4Addr>() {
        return Some(v4.octets().to_vec());
    }
    let v6 = s.parse::<std::net::Ipv6Addr>().ok()?;
    Some(match v6.to_ipv4_mapped() {
        Some(v4) => v4.octets().to_vec(),
        None => v6.octets().to_vec(),
    })
}

fn string_list(v: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    let Some(items) = v.and_then(Value::as_list) else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(s.to_string()),
            other => Err(format!(
                "{what}: {} is not a string",
                crate::gofmt::format_value(other)
            )),
        })
        .collect()
}

impl Template {
    fn new(cn: &str, ips: Option<&Value>, dns: Option<&Value>, days: i64) -> Result<Self, String> {
        let ips = string_list(ips, "error parsing ip")?
            .into_iter()
            .map(|ip| parse_ip(&ip).ok_or_else(|| format!("error parsing ip: {ip}")))
            .collect::<Result<Vec<_>, _>>()?;
        let dns = string_list(dns, "error processing alternate dns name")?;
        Ok(Template {
            cn: cn.to_string(),
            ips,
            dns,
            days_valid: days,
            is_ca: false,
        })
    }

    /// `x509.CreateCertificate(rand, template, parent, pub, priv)` as PEM.
    fn create(
        &self,
        ctx: &mut dyn Context,
        key: &Key,
        signer: &Key,
        parent: Option<&ParsedCert>,
    ) -> Result<String, String> {
        let spki = key
            .spki()
            .map_err(|e| format!("error creating certificate: {e}"))?;
        let mut serial = [0u8; 16];
        super::crypto::random_bytes(ctx, &mut serial);
        let now = GoTime::now(&*ctx);
        let not_after = now.add((24 * 3600 * 1_000_000_000i64).wrapping_mul(self.days_valid));
        let subject = name(&self.cn);
        let issuer = parent.map_or_else(|| subject.clone(), |p| p.raw_subject.clone());

        let mut exts: Vec<Vec<u8>> = Vec::new();
        let ext = |id: &[u64], critical: bool, value: Vec<u8>| {
            let mut parts = vec![oid(id)];
            if critical {
                parts.push(der(0x01, &[0xff]));
            }
            parts.push(der(0x04, &value));
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            seq(&refs)
        };
        // Key usage: digital signature, key encipherment (and cert sign for a CA).
        let usage = if self.is_ca {
            bit_string(&[0xa4], 2)
        } else {
            bit_string(&[0xa0], 5)
        };
        exts.push(ext(&[2, 5, 29, 15], true, usage));
        exts.push(ext(
            &[2, 5, 29, 37],
            false,
            seq(&[
                &oid(&[1, 3, 6, 1, 5, 5, 7, 3, 1]),
                &oid(&[1, 3, 6, 1, 5, 5, 7, 3, 2]),
            ]),
        ));
        let basic = if self.is_ca {
            seq(&[&der(0x01, &[0xff])])
        } else {
            seq(&[])
        };
        exts.push(ext(&[2, 5, 29, 19], true, basic));
        if self.is_ca {
            let ski = sha1::Sha1::digest(spki_key_bits(&spki)).to_vec();
            exts.push(ext(&[2, 5, 29, 14], false, der(0x04, &ski)));
        }
        if let Some(p) = parent
            && p.raw_subject != subject
            && !p.subject_key_id.is_empty()
        {
            exts.push(ext(
                &[2, 5, 29, 35],
                false,
                seq(&[&der(0x80, &p.subject_key_id)]),
            ));
        }
        if !self.dns.is_empty() || !self.ips.is_empty() {
            let mut names = Vec::new();
            for d in &self.dns {
                names.extend(der(0x82, d.as_bytes()));
            }
            for ip in &self.ips {
                names.extend(der(0x87, ip));
            }
            exts.push(ext(&[2, 5, 29, 17], self.cn.is_empty(), der(0x30, &names)));
        }
        let ext_refs: Vec<&[u8]> = exts.iter().map(Vec::as_slice).collect();

        let sig_alg = signer.signature_algorithm();
        let tbs = seq(&[
            &der(0xa0, &der(0x02, &[2])),
            &uint(&serial),
            &sig_alg,
            &issuer,
            &seq(&[&der_time(&now), &der_time(&not_after)]),
            &subject,
            &spki,
            &der(0xa3, &seq(&ext_refs)),
        ]);
        let signature = signer
            .sign(&tbs)
            .map_err(|e| format!("error creating certificate: {e}"))?;
        let cert = seq(&[&tbs, &sig_alg, &bit_string(&signature, 0)]);
        Ok(pem_encode("CERTIFICATE", &cert))
    }
}

/// Sprig's `certificate{Cert, Key}`.
#[derive(Debug)]
pub struct Certificate {
    pub cert: String,
    pub key: String,
}

impl Certificate {
    fn value(cert: String, key: String) -> Value {
        Value::Object(Arc::new(Certificate { cert, key }))
    }
}

impl Object for Certificate {
    fn type_name(&self) -> &str {
        "sprig.certificate"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::from(self.cert.as_str())),
            "Key" => Some(Value::from(self.key.as_str())),
            _ => None,
        }
    }

    fn go_string(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }

    fn to_data(&self) -> Option<Value> {
        let m = Map::new();
        m.insert("Cert", Value::from(self.cert.as_str()));
        m.insert("Key", Value::from(self.key.as_str()));
        Some(Value::Map(m))
    }
}

fn issue(
    ctx: &mut dyn Context,
    template: &Template,
    key: Key,
    ca: Option<(&Key, &ParsedCert)>,
) -> Result<Value, FuncError> {
    let (signer, parent) = match ca {
        Some((k, p)) => (k, Some(p)),
        None => (&key, None),
    };
    let cert = template
        .create(ctx, &key, signer, parent)
        .map_err(FuncError::new)?;
    let key_pem = key
        .to_pem()
        .map_err(|e| FuncError::new(format!("error pem-encoding key: {e}")))?;
    Ok(Certificate::value(cert, key_pem))
}

fn ca_arg(v: Option<&Value>) -> Result<(String, String), FuncError> {
    match v {
        Some(Value::Object(o)) if o.type_name() == "sprig.certificate" => Ok((
            o.field("Cert")
                .and_then(|c| c.as_str().map(str::to_string))
                .unwrap_or_default(),
            o.field("Key")
                .and_then(|c| c.as_str().map(str::to_string))
                .unwrap_or_default(),
        )),
        None | Some(Value::Nil) => Err(FuncError::new("invalid value; expected sprig.certificate")),
        Some(other) => Err(FuncError::new(format!(
            "wrong type for value; expected sprig.certificate; got {}",
            other.type_name()
        ))),
    }
}

fn signed(ctx: &mut dyn Context, args: &[Value], key: Option<&str>) -> Result<Value, FuncError> {
    let (ca_cert, ca_key) = ca_arg(args.get(4))?;
    let key = match key {
        Some(pem) => {
            Key::parse_pem(pem).map_err(|e| FuncError::new(format!("parsing private key: {e}")))?
        }
        None => Key::rsa2048(ctx).map_err(FuncError::new)?,
    };
    let (_, der_bytes) =
        pem_decode(&ca_cert).ok_or_else(|| FuncError::new("unable to decode certificate"))?;
    let parent = parse_certificate(&der_bytes).map_err(|e| {
        FuncError::new(format!(
            "error parsing certificate: decodedSignerCert.Bytes: {e}"
        ))
    })?;
    let signer = Key::parse_pem(&ca_key)
        .map_err(|e| FuncError::new(format!("error parsing private key: {e}")))?;
    let template = Template::new(str_arg(args, 0), args.get(1), args.get(2), int_arg(args, 3))
        .map_err(FuncError::new)?;
    issue(ctx, &template, key, Some((&signer, &parent)))
}

fn str_arg(args: &[Value], i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or("")
}

fn int_arg(args: &[Value], i: usize) -> i64 {
    match args.get(i) {
        Some(Value::Int(n)) => *n,
        _ => 0,
    }
}

pub fn register(map: &mut FuncMap) {
    use Ty::{Any, Int, List, String as S};
    map.insert(
        "genPrivateKey",
        Func::new(&[S], None, |ctx, a| {
            Ok(Value::from(
                match Key::generate(ctx, str_arg(a, 0)).and_then(|k| k.to_pem()) {
                    Ok(pem) | Err(pem) => pem,
                },
            ))
        }),
    );
    map.insert(
        "buildCustomCert",
        Func::pure(&[S, S], None, |a| {
            let cert = b64_decode(str_arg(a, 0))
                .map_err(|_| FuncError::new("unable to decode base64 certificate"))?;
            let key = b64_decode(str_arg(a, 1))
                .map_err(|_| FuncError::new("unable to decode base64 private key"))?;
            let cert = super::encoding::bytes_to_string(cert);
            let key = super::encoding::bytes_to_string(key);
            let (_, der_bytes) =
                pem_decode(&cert).ok_or_else(|| FuncError::new("unable to decode certificate"))?;
            parse_certificate(&der_bytes).map_err(|e| {
                FuncError::new(format!("error parsing certificate: decodedCert.Bytes: {e}"))
            })?;
            Key::parse_pem(&key)
                .map_err(|e| FuncError::new(format!("error parsing private key: {e}")))?;
            Ok(Certificate::value(cert, key))
        }),
    );
    map.insert(
        "genCA",
        Func::new(&[S, Int], None, |ctx, a| {
            let mut t =
                Template::new(str_arg(a, 0), None, None, int_arg(a, 1)).map_err(FuncError::new)?;
            t.is_ca = true;
            let key = Key::rsa2048(ctx).map_err(FuncError::new)?;
            issue(ctx, &t, key, None)
        }),
    );
    map.insert(
        "genCAWithKey",
        Func::new(&[S, Int, S], None, |ctx, a| {
            let key = Key::parse_pem(str_arg(a, 2))
                .map_err(|e| FuncError::new(format!("parsing private key: {e}")))?;
            let mut t =
                Template::new(str_arg(a, 0), None, None, int_arg(a, 1)).map_err(FuncError::new)?;
            t.is_ca = true;
            issue(ctx, &t, key, None)
        }),
    );
    map.insert(
        "genSelfSignedCert",
        Func::new(&[S, List, List, Int], None, |ctx, a| {
            let key = Key::rsa2048(ctx).map_err(FuncError::new)?;
            let t = Template::new(str_arg(a, 0), a.get(1), a.get(2), int_arg(a, 3))
                .map_err(FuncError::new)?;
            issue(ctx, &t, key, None)
        }),
    );
    map.insert(
        "genSelfSignedCertWithKey",
        Func::new(&[S, List, List, Int, S], None, |ctx, a| {
            let key = Key::parse_pem(str_arg(a, 4))
                .map_err(|e| FuncError::new(format!("parsing private key: {e}")))?;
            let t = Template::new(str_arg(a, 0), a.get(1), a.get(2), int_arg(a, 3))
                .map_err(FuncError::new)?;
            issue(ctx, &t, key, None)
        }),
    );
    map.insert(
        "genSignedCert",
        Func::new(&[S, List, List, Int, Any], None, |ctx, a| {
            signed(ctx, a, None)
        }),
    );
    map.insert(
        "genSignedCertWithKey",
        Func::new(&[S, List, List, Int, Any, S], None, |ctx, a| {
            let pem = str_arg(a, 5).to_string();
            signed(ctx, a, Some(&pem))
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::super::testing::{call, i, s, show};
    use super::*;

    fn ec_key() -> String {
        show("genPrivateKey", &[s("ecdsa")]).unwrap()
    }

    #[test]
    fn private_keys() {
        let ec = ec_key();
        assert!(ec.starts_with("-----BEGIN EC PRIVATE KEY-----\n"), "{ec}");
        assert!(ec.ends_with("-----END EC PRIVATE KEY-----\n"));
        assert!(matches!(Key::parse_pem(&ec), Ok(Key::Ecdsa(_))));
        let ed = show("genPrivateKey", &[s("ed25519")]).unwrap();
        assert!(ed.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{ed}");
        // Go's PKCS#8 Ed25519 key is 48 bytes: 64 base64 characters.
        assert_eq!(ed.lines().nth(1).map(str::len), Some(64));
        assert!(matches!(Key::parse_pem(&ed), Ok(Key::Ed25519(_))));
        assert_eq!(
            show("genPrivateKey", &[s("foo")]).unwrap(),
            "Unknown type foo"
        );
    }

    #[test]
    fn ca_and_signed_certificates() {
        let ca = call("genCAWithKey", &[s("my-ca"), i(365), s(&ec_key())]).unwrap();
        let Value::Object(obj) = &ca else { panic!() };
        let cert = obj.field("Cert").unwrap();
        let cert = cert.as_str().unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----\n"));
        let (_, der_bytes) = pem_decode(cert).unwrap();
        let parsed = parse_certificate(&der_bytes).unwrap();
        assert_eq!(parsed.raw_subject, name("my-ca"));
        assert_eq!(parsed.subject_key_id.len(), 20);
        // The validity comes from the render clock (2023-11-14 22:13:20 UTC).
        let text = String::from_utf8_lossy(&der_bytes).into_owned();
        assert!(text.contains("231114221320Z"));
        assert!(text.contains("241113221320Z"));

        let leaf = call(
            "genSignedCertWithKey",
            &[
                s("leaf.example.com"),
                Value::list(vec![s("10.0.0.1")]),
                Value::list(vec![s("leaf.example.com"), s("alt")]),
                i(30),
                ca.clone(),
                s(&show("genPrivateKey", &[s("ed25519")]).unwrap()),
            ],
        )
        .unwrap();
        let Value::Object(leaf) = &leaf else { panic!() };
        let pem = leaf.field("Cert").unwrap();
        let (_, leaf_der) = pem_decode(pem.as_str().unwrap()).unwrap();
        let leaf_parsed = parse_certificate(&leaf_der).unwrap();
        assert_eq!(leaf_parsed.raw_subject, name("leaf.example.com"));
        assert!(leaf_parsed.subject_key_id.is_empty());
        // The authority key id is the CA's subject key id.
        let aki = der(0x80, &parsed.subject_key_id);
        assert!(leaf_der.windows(aki.len()).any(|w| w == aki.as_slice()));
        assert!(leaf_der.windows(6).any(|w| w == [0x87, 4, 10, 0, 0, 1]));
        assert!(
            leaf.field("Key")
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        // The issuer's certificate and key can be reused as a custom certificate.
        let custom = call(
            "buildCustomCert",
            &[
                s(&b64_encode(cert.as_bytes())),
                s(&b64_encode(
                    obj.field("Key").unwrap().as_str().unwrap().as_bytes(),
                )),
            ],
        )
        .unwrap();
        assert_eq!(custom.type_name(), "sprig.certificate");
    }

    #[test]
    fn rsa_self_signed_certificate_verifies() {
        let cert = call(
            "genSelfSignedCert",
            &[s("self"), Value::Nil, Value::list(vec![s("a.b")]), i(1)],
        )
        .unwrap();
        let Value::Object(obj) = &cert else { panic!() };
        let key = obj.field("Key").unwrap();
        let Ok(Key::Rsa(rsa_key)) = Key::parse_pem(key.as_str().unwrap()) else {
            panic!("not an RSA key")
        };
        let (_, der_bytes) = pem_decode(obj.field("Cert").unwrap().as_str().unwrap()).unwrap();
        let (outer, _) = read_tlv(&der_bytes).unwrap();
        let (tbs, rest) = read_tlv(outer.content).unwrap();
        let (_, rest) = read_tlv(rest).unwrap();
        let (sig, _) = read_tlv(rest).unwrap();
        let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(rsa_key.to_public_key());
        let signature = rsa::pkcs1v15::Signature::try_from(&sig.content[1..]).unwrap();
        use rsa::signature::Verifier;
        assert!(verifier.verify(tbs.raw, &signature).is_ok());
    }

    #[test]
    fn argument_errors() {
        assert_eq!(
            show(
                "genSelfSignedCertWithKey",
                &[
                    s("x"),
                    Value::list(vec![s("nope")]),
                    Value::Nil,
                    i(1),
                    s(&ec_key())
                ]
            ),
            Err("error parsing ip: nope".into())
        );
        assert_eq!(
            show(
                "genSelfSignedCertWithKey",
                &[
                    s("x"),
                    Value::list(vec![i(1)]),
                    Value::Nil,
                    i(1),
                    s(&ec_key())
                ]
            ),
            Err("error parsing ip: 1 is not a string".into())
        );
        assert_eq!(
            show("genCAWithKey", &[s("x"), i(1), s("garbage")]),
            Err("parsing private key: no PEM data in input".into())
        );
        assert_eq!(
            show(
                "genSignedCertWithKey",
                &[s("x"), Value::Nil, Value::Nil, i(1), s("ca"), s(&ec_key())]
            ),
            Err("wrong type for value; expected sprig.certificate; got string".into())
        );
        assert_eq!(
            show("buildCustomCert", &[s("!"), s("")]),
            Err("unable to decode base64 certificate".into())
        );
    }
}
