//! The CEL functions Kubernetes users expect that the `cel` crate lacks: Kubernetes' semver, IP
//! and CIDR libraries (`semver("1.2.3").isGreaterThan(...)`, `cidr("10.0.0.0/8")
//! .containsIP(ip(...))`), with Kubernetes' names and behaviour; and `matches`, which the crate
//! has but compiles its regex on every call: ours keeps compiled regexes per thread.
//!
//! The string helpers (`lowerAscii`, `split`, `join`, ...) come from the crate's strings
//! extension; `startsWith`, `endsWith`, `contains`, `matches`, `size` and the macros from its
//! standard library.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use cel::objects::Opaque;
use cel::{Context, DeclarationError, ExecutionError, FunctionContext, Value};

/// A semantic version (`semver("1.2.3")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Semver(pub semver::Version);

impl Opaque for Semver {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.Semver"
    }
}

/// An IP address (`ip("10.0.0.1")`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ip(pub IpAddr);

impl Opaque for Ip {
    fn runtime_type_name(&self) -> &str {
        "net.IP"
    }
}

/// An IP prefix (`cidr("10.0.0.0/8")`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Opaque for Cidr {
    fn runtime_type_name(&self) -> &str {
        "net.CIDR"
    }
}

type Result<T> = std::result::Result<T, ExecutionError>;

/// The functions this module adds (the checker declares their signatures).
pub const NAMES: &[&str] = &[
    "matches",
    "semver",
    "isSemver",
    "major",
    "minor",
    "patch",
    "isGreaterThan",
    "isLessThan",
    "compareTo",
    "ip",
    "isIP",
    "family",
    "isUnspecified",
    "isLoopback",
    "isLinkLocalMulticast",
    "isLinkLocalUnicast",
    "isGlobalUnicast",
    "cidr",
    "isCIDR",
    "containsIP",
    "containsCIDR",
    "prefixLength",
    "masked",
];

/// Adds the functions to a root context.
pub fn register(ctx: &mut Context<'_, '_>) -> std::result::Result<(), DeclarationError> {
    ctx.add_function("semver", |f: &FunctionContext| -> Result<Value> {
        let (s, normalize) = string_and_flag(f)?;
        parse_semver(&s, normalize)
            .map(|v| Value::Opaque(Arc::new(Semver(v))))
            .map_err(|e| f.error(e))
    })?;
    ctx.add_function("isSemver", |f: &FunctionContext| -> Result<Value> {
        let (s, normalize) = string_and_flag(f)?;
        Ok(Value::Bool(parse_semver(&s, normalize).is_ok()))
    })?;
    for (name, part) in [("major", 0), ("minor", 1), ("patch", 2)] {
        ctx.add_function(name, move |f: &FunctionContext| -> Result<Value> {
            let v = this_semver(f)?;
            let n = match part {
                0 => v.major,
                1 => v.minor,
                _ => v.patch,
            };
            Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
        })?;
    }
    for (name, want) in [
        ("isGreaterThan", Some(Ordering::Greater)),
        ("isLessThan", Some(Ordering::Less)),
        ("compareTo", None),
    ] {
        ctx.add_function(name, move |f: &FunctionContext| -> Result<Value> {
            let a = this_semver(f)?;
            let b = opaque_arg::<Semver>(f, 0, "semver")?;
            let ord = a.cmp_precedence(&b.0);
            Ok(match want {
                Some(w) => Value::Bool(ord == w),
                None => Value::Int(match ord {
                    Ordering::Less => -1,
                    Ordering::Equal => 0,
                    Ordering::Greater => 1,
                }),
            })
        })?;
    }

    ctx.add_function("ip", |f: &FunctionContext| -> Result<Value> {
        // `cidr.ip()` is the prefix's address; `ip(string)` parses one.
        if let Some(c) = this_opaque::<Cidr>(f) {
            return Ok(Value::Opaque(Arc::new(Ip(c.addr))));
        }
        let s = string_arg(f, 0)?;
        parse_ip(&s)
            .map(|ip| Value::Opaque(Arc::new(Ip(ip))))
            .map_err(|e| f.error(e))
    })?;
    ctx.add_function("isIP", |f: &FunctionContext| -> Result<Value> {
        Ok(Value::Bool(parse_ip(&string_arg(f, 0)?).is_ok()))
    })?;
    ctx.add_function("family", |f: &FunctionContext| -> Result<Value> {
        let ip = this_ip(f)?;
        Ok(Value::Int(if ip.is_ipv4() { 4 } else { 6 }))
    })?;
    type IpTest = fn(&IpAddr) -> bool;
    let tests: [(&str, IpTest); 5] = [
        ("isUnspecified", |ip| ip.is_unspecified()),
        ("isLoopback", |ip| ip.is_loopback()),
        ("isLinkLocalMulticast", is_link_local_multicast),
        ("isLinkLocalUnicast", is_link_local_unicast),
        ("isGlobalUnicast", is_global_unicast),
    ];
    for (name, test) in tests {
        ctx.add_function(name, move |f: &FunctionContext| -> Result<Value> {
            Ok(Value::Bool(test(&this_ip(f)?)))
        })?;
    }

    ctx.add_function("cidr", |f: &FunctionContext| -> Result<Value> {
        let s = string_arg(f, 0)?;
        parse_cidr(&s)
            .map(|c| Value::Opaque(Arc::new(c)))
            .map_err(|e| f.error(e))
    })?;
    ctx.add_function("isCIDR", |f: &FunctionContext| -> Result<Value> {
        Ok(Value::Bool(parse_cidr(&string_arg(f, 0)?).is_ok()))
    })?;
    ctx.add_function("containsIP", |f: &FunctionContext| -> Result<Value> {
        let c = this_cidr(f)?;
        let ip = match arg(f, 0)? {
            Value::String(s) => parse_ip(&s).map_err(|e| f.error(e))?,
            v => {
                opaque_value::<Ip>(&v)
                    .ok_or_else(|| f.error("expected an ip or a string"))?
                    .0
            }
        };
        Ok(Value::Bool(contains(&c, &ip)))
    })?;
    ctx.add_function("containsCIDR", |f: &FunctionContext| -> Result<Value> {
        let c = this_cidr(f)?;
        let other = match arg(f, 0)? {
            Value::String(s) => parse_cidr(&s).map_err(|e| f.error(e))?,
            v => opaque_value::<Cidr>(&v).ok_or_else(|| f.error("expected a cidr or a string"))?,
        };
        Ok(Value::Bool(
            other.prefix >= c.prefix && contains(&c, &other.addr),
        ))
    })?;
    ctx.add_function("prefixLength", |f: &FunctionContext| -> Result<Value> {
        Ok(Value::Int(i64::from(this_cidr(f)?.prefix)))
    })?;
    ctx.add_function("masked", |f: &FunctionContext| -> Result<Value> {
        let c = this_cidr(f)?;
        Ok(Value::Opaque(Arc::new(Cidr {
            addr: mask(&c.addr, c.prefix),
            prefix: c.prefix,
        })))
    })?;
    // `s.matches(re)` and `matches(s, re)`. Last: should another crate turn on the `cel`
    // crate's own `matches` (its "regex" feature), this conflicts and theirs stays.
    ctx.add_function("matches", |f: &FunctionContext| -> Result<Value> {
        let (s, re) = match this_string(f) {
            Some(s) => (s, string_arg(f, 0)?),
            None => (string_arg(f, 0)?, string_arg(f, 1)?),
        };
        regex_matches(&s, &re)
            .map(Value::Bool)
            .map_err(|e| f.error(e))
    })?;
    Ok(())
}

/// Compiled regexes are kept per thread, up to this many (then the cache starts over).
const REGEX_CACHE: usize = 256;

thread_local! {
    static REGEXES: RefCell<HashMap<String, std::result::Result<regex::Regex, String>>> =
        RefCell::new(HashMap::new());
}

/// Whether `re` is a valid RE2-syntax regex; if not, why (`unclosed group`).
pub fn check_regex(re: &str) -> std::result::Result<(), String> {
    match regex::Regex::new(re) {
        Ok(_) => Ok(()),
        Err(regex::Error::Syntax(text)) => Err(text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or("syntax error")
            .to_owned()),
        Err(regex::Error::CompiledTooBig(_)) => Err("the regex is too large".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether `s` matches the RE2-syntax regex `re` (unanchored, as in CEL).
pub fn regex_matches(s: &str, re: &str) -> std::result::Result<bool, String> {
    REGEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(re) {
            if cache.len() >= REGEX_CACHE {
                cache.clear();
            }
            let compiled =
                regex::Regex::new(re).map_err(|err| format!("'{re}' not a valid regex:\n{err}"));
            cache.insert(re.to_owned(), compiled);
        }
        match cache.get(re) {
            Some(Ok(r)) => Ok(r.is_match(s)),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!("'{re}' not a valid regex")),
        }
    })
}

fn this_string(f: &FunctionContext) -> Option<Arc<String>> {
    let this = f.this.as_ref()?;
    match Value::try_from(this.as_ref()).ok()? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn arg(f: &FunctionContext, i: usize) -> Result<Value> {
    let v = f
        .args
        .get(i)
        .ok_or_else(|| ExecutionError::invalid_argument_count(i + 1, f.args.len()))?;
    Value::try_from(v.as_ref()).map_err(|_| f.error("unsupported argument"))
}

fn string_arg(f: &FunctionContext, i: usize) -> Result<Arc<String>> {
    match arg(f, i)? {
        Value::String(s) => Ok(s),
        other => Err(f.error(format!("expected a string, found {}", other.type_of()))),
    }
}

/// `(string)` or `(string, bool)`.
fn string_and_flag(f: &FunctionContext) -> Result<(Arc<String>, bool)> {
    let s = string_arg(f, 0)?;
    let flag = match f.args.len() {
        1 => false,
        2 => match arg(f, 1)? {
            Value::Bool(b) => b,
            _ => return Err(f.error("expected a bool as second argument")),
        },
        n => return Err(ExecutionError::invalid_argument_count(2, n)),
    };
    Ok((s, flag))
}

fn opaque_value<T: Opaque + Clone>(v: &Value) -> Option<T> {
    match v {
        Value::Opaque(o) => o.downcast_ref::<T>().cloned(),
        _ => None,
    }
}

fn this_opaque<T: Opaque + Clone>(f: &FunctionContext) -> Option<T> {
    let this = f.this.as_ref()?;
    opaque_value(&Value::try_from(this.as_ref()).ok()?)
}

fn opaque_arg<T: Opaque + Clone>(f: &FunctionContext, i: usize, what: &str) -> Result<T> {
    opaque_value(&arg(f, i)?).ok_or_else(|| f.error(format!("expected a {what}")))
}

fn this_semver(f: &FunctionContext) -> Result<semver::Version> {
    this_opaque::<Semver>(f)
        .map(|s| s.0)
        .ok_or_else(|| f.error("expected a semver receiver"))
}

fn this_ip(f: &FunctionContext) -> Result<IpAddr> {
    this_opaque::<Ip>(f)
        .map(|s| s.0)
        .ok_or_else(|| f.error("expected an ip receiver"))
}

fn this_cidr(f: &FunctionContext) -> Result<Cidr> {
    this_opaque::<Cidr>(f).ok_or_else(|| f.error("expected a cidr receiver"))
}

/// Kubernetes' `semver`: strict SemVer 2.0; with `normalize`, as Kubernetes' library
/// normalizes (`normalizeAndParse` in `k8s.io/apiserver/pkg/cel/library/semverlib.go`): a
/// leading `v` is dropped, leading zeros of the major, minor and patch numbers are stripped,
/// and a missing minor or patch number is `0` (`v01.2` is `1.2.0`); a shortened version
/// cannot carry a prerelease or build (`1.2-rc.1` is refused).
pub fn parse_semver(s: &str, normalize: bool) -> std::result::Result<semver::Version, String> {
    let invalid = || format!("invalid semver: {s}");
    if !normalize {
        return semver::Version::parse(s).map_err(|_| invalid());
    }
    let t = s.strip_prefix('v').unwrap_or(s);
    // major.minor.(patch, prerelease and build)
    let mut parts: Vec<String> = t.splitn(3, '.').map(str::to_owned).collect();
    for part in &mut parts {
        if part.len() > 1 {
            let trimmed = part.trim_start_matches('0');
            *part = if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
                trimmed.to_owned()
            } else {
                format!("0{trimmed}")
            };
        }
    }
    if parts.len() < 3 {
        if parts.last().is_some_and(|p| p.contains(['+', '-'])) {
            return Err(invalid());
        }
        parts.resize(3, "0".to_owned());
    }
    semver::Version::parse(&parts.join(".")).map_err(|_| invalid())
}

/// Kubernetes' `ip`: IPv4 or IPv6, no zone, no IPv4-mapped IPv6.
pub fn parse_ip(s: &str) -> std::result::Result<IpAddr, String> {
    let ip = IpAddr::from_str(s).map_err(|_| format!("IP Address {s:?} parse error"))?;
    if let IpAddr::V6(v6) = ip
        && v6.to_ipv4_mapped().is_some()
    {
        return Err(format!("IPv4-mapped IPv6 address {s:?} is not allowed"));
    }
    Ok(ip)
}

/// Kubernetes' `cidr`: an address and a prefix length within its family.
pub fn parse_cidr(s: &str) -> std::result::Result<Cidr, String> {
    let bad = || format!("network address {s:?} parse error");
    let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
    let addr = parse_ip(addr).map_err(|_| bad())?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
        return Err(bad());
    }
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(bad());
    }
    Ok(Cidr { addr, prefix })
}

fn bits(ip: &IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(*v4)), 32),
        IpAddr::V6(v6) => (u128::from(*v6), 128),
    }
}

fn mask_bits(width: u32, prefix: u8) -> u128 {
    let prefix = u32::from(prefix).min(width);
    if prefix == 0 {
        return 0;
    }
    let ones = u128::MAX << (128 - prefix);
    ones >> (128 - width)
}

fn mask(ip: &IpAddr, prefix: u8) -> IpAddr {
    let (b, width) = bits(ip);
    let m = b & mask_bits(width, prefix);
    match ip {
        IpAddr::V4(_) => IpAddr::from(u32::try_from(m).unwrap_or(0).to_be_bytes()),
        IpAddr::V6(_) => IpAddr::from(m.to_be_bytes()),
    }
}

fn contains(c: &Cidr, ip: &IpAddr) -> bool {
    if c.addr.is_ipv4() != ip.is_ipv4() {
        return false;
    }
    let (a, width) = bits(&c.addr);
    let (b, _) = bits(ip);
    let m = mask_bits(width, c.prefix);
    a & m == b & m
}

fn is_link_local_multicast(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    }
}

fn is_link_local_unicast(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// Go's `net.IP.IsGlobalUnicast`: not unspecified, loopback, multicast, link-local, or the
/// IPv4 broadcast address.
fn is_global_unicast(ip: &IpAddr) -> bool {
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || is_link_local_unicast(ip)
        || broadcast)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_parsing_follows_kubernetes() {
        let check = |s: &str, normalize: bool, expect: Option<&str>| {
            assert_eq!(
                parse_semver(s, normalize).ok().map(|v| v.to_string()),
                expect.map(str::to_owned),
                "{s} {normalize}"
            );
        };
        check("1.2.3", false, Some("1.2.3"));
        check("1.2.3-rc.1+b", false, Some("1.2.3-rc.1+b"));
        check("v1.2.3", false, None);
        check("1.2", false, None);
        check("v1.2", true, Some("1.2.0"));
        check("1", true, Some("1.0.0"));
        check("1.2.3.4", true, None);
        // Kubernetes' normalization: leading zeros stripped, a shortened version has no
        // prerelease or build.
        check("01.02.03", true, Some("1.2.3"));
        check("v1.020", true, Some("1.20.0"));
        check("1.0.0-rc.1", true, Some("1.0.0-rc.1"));
        check("1.2.03-rc.1", true, Some("1.2.3-rc.1"));
        check("1.2.0-rc", true, Some("1.2.0-rc"));
        check("1.2.00-rc", true, Some("1.2.0-rc"));
        check("1.2-rc.1", true, None);
        check("1+b", true, None);
        check("01.2.3", false, None);
        check("vv1.2.3", true, None);
        check("", true, None);
    }

    #[test]
    fn regexes_match_as_before_and_are_cached() {
        assert_eq!(regex_matches("nginx:1.2", ":[^/:@]+$"), Ok(true));
        assert_eq!(regex_matches("nginx", ":[^/:@]+$"), Ok(false));
        assert_eq!(regex_matches("abc", "b"), Ok(true), "unanchored");
        for i in 0..(REGEX_CACHE * 2) {
            assert_eq!(
                regex_matches(&format!("x{i}"), &format!("^x{i}$")),
                Ok(true)
            );
        }
        assert!(
            regex_matches("a", "(a")
                .unwrap_err()
                .starts_with("'(a' not a valid regex:\nregex parse error")
        );
    }

    #[test]
    fn regexes_are_checked_with_a_short_reason() {
        assert_eq!(check_regex("^(eu|us)-"), Ok(()));
        assert_eq!(check_regex("^(eu"), Err("unclosed group".to_owned()));
        assert_eq!(
            check_regex("[a-"),
            Err("unclosed character class".to_owned())
        );
    }

    #[test]
    fn cidr_math() {
        let c = parse_cidr("10.0.0.0/8").unwrap();
        assert!(contains(&c, &parse_ip("10.1.2.3").unwrap()));
        assert!(!contains(&c, &parse_ip("11.0.0.1").unwrap()));
        assert!(!contains(&c, &parse_ip("::1").unwrap()));
        let all = parse_cidr("0.0.0.0/0").unwrap();
        assert!(contains(&all, &parse_ip("1.2.3.4").unwrap()));
        let v6 = parse_cidr("fd00::/8").unwrap();
        assert!(contains(&v6, &parse_ip("fd12::1").unwrap()));
        assert_eq!(
            mask(&parse_ip("10.1.2.3").unwrap(), 16).to_string(),
            "10.1.0.0"
        );
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("10.0.0.0").is_err());
        assert!(parse_cidr("10.0.0.0/+8").is_err());
        assert!(parse_ip("::ffff:1.2.3.4").is_err());
        assert!(parse_ip("fe80::1%eth0").is_err());
    }
}
