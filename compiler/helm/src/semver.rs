//! Masterminds/semver v3.3 as Helm uses it: lenient version parsing, and constraint ranges
//! (`>=1.25.0-0`, `^1.2`, `~1.2.x`, `1.0 - 2.0`, `a || b`) for chart and Kubernetes versions.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// Go's `\s`: ASCII whitespace only.
const WS: &str = r"[\t\n\f\r ]";

const SEMVER: &str = r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

static VERSION_RE: LazyLock<Regex> = LazyLock::new(|| compile(&format!("^{SEMVER}$")));
static CONSTRAINT_RE: LazyLock<Regex> =
    LazyLock::new(|| compile(&format!(r"^{WS}*({OPS}){WS}*({CV}){WS}*$")));
static RANGE_RE: LazyLock<Regex> =
    LazyLock::new(|| compile(&format!(r"{WS}*({CV}){WS}+-{WS}+({CV}){WS}*")));
static FIND_RE: LazyLock<Regex> = LazyLock::new(|| compile(&format!(r"({OPS}){WS}*({CV})")));
static VALID_RE: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r"^({WS}*({OPS}){WS}*({CV}){WS}*)((?:{WS}+|,{WS}*)({OPS}){WS}*({CV}){WS}*)*$"
    ))
});

fn compile(pattern: &str) -> Regex {
    // The patterns are constants; a failure here is a bug caught by the tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("semver pattern {pattern:?}: {e}"))
}

/// A version that does not parse (Masterminds' error texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SemverError(pub String);

/// A semantic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub metadata: String,
    pub original: String,
}

fn parse_u64(s: &str) -> Result<u64, SemverError> {
    s.parse::<u64>().map_err(|_| {
        SemverError(format!(
            "Error parsing version segment: strconv.ParseUint: parsing {s:?}: value out of range"
        ))
    })
}

fn contains_only(s: &str, allowed: impl Fn(char) -> bool) -> bool {
    s.chars().all(allowed)
}

fn is_num(c: char) -> bool {
    c.is_ascii_digit()
}

fn is_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

fn validate_prerelease(p: &str) -> Result<(), SemverError> {
    for part in p.split('.') {
        if contains_only(part, is_num) {
            if part.len() > 1 && part.starts_with('0') {
                return Err(SemverError("Version segment starts with 0".into()));
            }
        } else if !contains_only(part, is_allowed) {
            return Err(SemverError("Invalid Prerelease string".into()));
        }
    }
    Ok(())
}

fn validate_metadata(m: &str) -> Result<(), SemverError> {
    for part in m.split('.') {
        if !contains_only(part, is_allowed) {
            return Err(SemverError("Invalid Metadata string".into()));
        }
    }
    Ok(())
}

impl Version {
    /// `semver.NewVersion`: lenient (`v` prefix, missing minor/patch).
    pub fn parse(v: &str) -> Result<Version, SemverError> {
        let caps = VERSION_RE
            .captures(v)
            .ok_or_else(|| SemverError("Invalid Semantic Version".into()))?;
        let get = |i: usize| caps.get(i).map_or("", |m| m.as_str());
        let major = parse_u64(get(1))?;
        let minor = match get(2) {
            "" => 0,
            s => parse_u64(s.trim_start_matches('.'))?,
        };
        let patch = match get(3) {
            "" => 0,
            s => parse_u64(s.trim_start_matches('.'))?,
        };
        let pre = get(5).to_string();
        let metadata = get(8).to_string();
        if !pre.is_empty() {
            validate_prerelease(&pre)?;
        }
        if !metadata.is_empty() {
            validate_metadata(&metadata)?;
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre,
            metadata,
            original: v.to_string(),
        })
    }

    pub fn compare(&self, o: &Version) -> Ordering {
        self.major
            .cmp(&o.major)
            .then(self.minor.cmp(&o.minor))
            .then(self.patch.cmp(&o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &o.pre),
            })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

fn compare_prerelease(v: &str, o: &str) -> Ordering {
    let sparts: Vec<&str> = v.split('.').collect();
    let oparts: Vec<&str> = o.split('.').collect();
    for i in 0..sparts.len().max(oparts.len()) {
        let s = sparts.get(i).copied().unwrap_or("");
        let o = oparts.get(i).copied().unwrap_or("");
        let d = compare_pre_part(s, o);
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        // A numeric part is lower than a textual one.
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(si), Ok(oi)) => {
            if si > oi {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Constraint {
    con: Version,
    op: Op,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

/// A parsed constraint: alternatives (`||`) of conjunctions.
#[derive(Debug, Clone)]
pub struct Constraints {
    alternatives: Vec<Vec<Constraint>>,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "*" | "X")
}

fn rewrite_range(input: &str) -> String {
    let mut out = input.to_string();
    for caps in RANGE_RE.captures_iter(input) {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let a = caps.get(1).map_or("", |m| m.as_str());
        let b = caps.get(11).map_or("", |m| m.as_str());
        out = out.replacen(whole, &format!(">= {a}, <= {b} "), 1);
    }
    out
}

fn parse_constraint(c: &str) -> Result<Constraint, SemverError> {
    if c.is_empty() {
        return Ok(Constraint {
            con: Version::parse("0.0.0")?,
            op: Op::TildeOrEqual,
            minor_dirty: false,
            patch_dirty: false,
            dirty: true,
        });
    }
    let caps = CONSTRAINT_RE
        .captures(c)
        .ok_or_else(|| SemverError(format!("improper constraint: {c}")))?;
    let get = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let op = match get(1) {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterEqual,
        "<=" | "=<" => Op::LessEqual,
        "~" | "~>" => Op::Tilde,
        _ => Op::Caret,
    };
    let (m3, m4, m5, m6) = (get(3), get(4), get(5), get(6));
    let mut ver = get(2).to_string();
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    if is_x(m3) || m3.is_empty() {
        ver = format!("0.0.0{m6}");
        dirty = true;
    } else if is_x(m4.trim_start_matches('.')) || m4.is_empty() {
        minor_dirty = true;
        dirty = true;
        ver = format!("{m3}.0.0{m6}");
    } else if is_x(m5.trim_start_matches('.')) || m5.is_empty() {
        dirty = true;
        patch_dirty = true;
        ver = format!("{m3}{m4}.0{m6}");
    }
    let con = Version::parse(&ver).map_err(|_| SemverError("constraint Parser Error".into()))?;
    Ok(Constraint {
        con,
        op,
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

impl Constraints {
    /// `semver.NewConstraint`.
    pub fn parse(c: &str) -> Result<Constraints, SemverError> {
        let c = rewrite_range(c);
        let mut alternatives = Vec::new();
        for alt in c.split("||") {
            if !VALID_RE.is_match(alt) {
                return Err(SemverError(format!("improper constraint: {alt}")));
            }
            let found: Vec<&str> = FIND_RE.find_iter(alt).map(|m| m.as_str()).collect();
            let found = if found.is_empty() { vec![alt] } else { found };
            let mut all = Vec::with_capacity(found.len());
            for s in found {
                all.push(parse_constraint(s)?);
            }
            alternatives.push(all);
        }
        Ok(Constraints { alternatives })
    }

    pub fn check(&self, v: &Version) -> bool {
        self.alternatives
            .iter()
            .any(|all| all.iter().all(|c| c.check(v)))
    }
}

impl Constraint {
    fn check(&self, v: &Version) -> bool {
        let c = self;
        let pre_blocked = !v.pre.is_empty() && c.con.pre.is_empty();
        match c.op {
            Op::NotEqual => {
                if c.dirty {
                    if pre_blocked {
                        return false;
                    }
                    if c.con.major != v.major {
                        return true;
                    }
                    if c.con.minor != v.minor && !c.minor_dirty {
                        return true;
                    } else if c.minor_dirty {
                        return false;
                    } else if c.con.patch != v.patch && !c.patch_dirty {
                        return true;
                    } else if c.patch_dirty {
                        if !v.pre.is_empty() || !c.con.pre.is_empty() {
                            return compare_prerelease(&v.pre, &c.con.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                v.compare(&c.con) != Ordering::Equal
            }
            Op::Greater => {
                if pre_blocked {
                    return false;
                }
                if !c.dirty {
                    return v.compare(&c.con) == Ordering::Greater;
                }
                if v.major > c.con.major {
                    return true;
                } else if v.major < c.con.major || c.minor_dirty {
                    return false;
                } else if c.patch_dirty {
                    return v.minor > c.con.minor;
                }
                v.compare(&c.con) == Ordering::Greater
            }
            Op::Less => !pre_blocked && v.compare(&c.con) == Ordering::Less,
            Op::GreaterEqual => !pre_blocked && v.compare(&c.con) != Ordering::Less,
            Op::LessEqual => {
                if pre_blocked {
                    return false;
                }
                if !c.dirty {
                    return v.compare(&c.con) != Ordering::Greater;
                }
                !(v.major > c.con.major
                    || (v.major == c.con.major && v.minor > c.con.minor && !c.minor_dirty))
            }
            Op::Tilde => !pre_blocked && tilde(v, c),
            Op::TildeOrEqual => {
                if pre_blocked {
                    return false;
                }
                if c.dirty {
                    return tilde(v, c);
                }
                v.compare(&c.con) == Ordering::Equal
            }
            Op::Caret => {
                if pre_blocked || v.compare(&c.con) == Ordering::Less {
                    return false;
                }
                if c.con.major > 0 || c.minor_dirty {
                    return v.major == c.con.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.con.minor > 0 || c.patch_dirty {
                    return v.minor == c.con.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                c.con.patch == v.patch
            }
        }
    }
}

fn tilde(v: &Version, c: &Constraint) -> bool {
    if v.compare(&c.con) == Ordering::Less {
        return false;
    }
    if c.con.major == 0 && c.con.minor == 0 && c.con.patch == 0 && !c.minor_dirty && !c.patch_dirty
    {
        return true;
    }
    if v.major != c.con.major {
        return false;
    }
    v.minor == c.con.minor || c.minor_dirty
}

/// `chartutil.IsCompatibleRange`: false when either side does not parse.
pub fn is_compatible_range(constraint: &str, version: &str) -> bool {
    let Ok(v) = Version::parse(version) else {
        return false;
    };
    let Ok(c) = Constraints::parse(constraint) else {
        return false;
    };
    c.check(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(constraint: &str, version: &str, expect: bool) {
        assert_eq!(
            is_compatible_range(constraint, version),
            expect,
            "{constraint} vs {version}"
        );
    }

    #[test]
    fn versions_parse_leniently() {
        let v = Version::parse("v1.31").unwrap();
        assert_eq!(v.to_string(), "1.31.0");
        assert_eq!(
            Version::parse("1.2.3-rc.1+b5").unwrap().to_string(),
            "1.2.3-rc.1+b5"
        );
        assert!(Version::parse("1.2.3.4").is_err());
        assert!(Version::parse("").is_err());
        assert!(Version::parse("1.2.3-01").is_err());
    }

    #[test]
    fn constraints_follow_masterminds() {
        check(">=1.25.0-0", "v1.31.0", true);
        check(">=1.25.0-0", "1.20.0", false);
        check("^1.10.0-0", "v1.31.0", true);
        check(">=6.0.0", "6.14.1", true);
        check("0.1.0", "0.1.0", true);
        check("0.1.0", "0.1.1", false);
        check("1.2.x", "1.2.9", true);
        check("~1.2", "1.3.0", false);
        check("^0.2.3", "0.2.9", true);
        check("^0.2.3", "0.3.0", false);
        check("1.0 - 2.0", "1.5.0", true);
        check(">=1.0, <2.0", "2.0.0", false);
        check("<1 || >=3", "3.1.0", true);
        check("*", "5.0.0", true);
        // A prerelease only satisfies constraints that name a prerelease.
        check(">=1.0.0", "1.5.0-beta", false);
        check("", "1.0.0", false);
        check("!=1.2.3", "1.2.3", false);
        check("not a range", "1.0.0", false);
    }
}
