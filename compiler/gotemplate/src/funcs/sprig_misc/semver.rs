//! Masterminds/semver v3.3.0 as Sprig exposes it: `semver` (a `*semver.Version` object) and
//! `semverCompare` (constraint ranges with `^`, `~`, `x` wildcards, hyphen ranges, `,` and
//! `||`, and the library's prerelease rules).
//!
//! Parsing uses the library's own regular expressions (with Go's ASCII `\s`), so odd inputs
//! are accepted or rejected exactly as Helm does.

use std::sync::{Arc, OnceLock};

use crate::funcs::{Func, FuncError, FuncMap, Ty};
use crate::value::{Object, Value};

/// A version or constraint that does not parse, with Masterminds' error text (which templates
/// print, so it keeps Go's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SemverError(pub String);

/// A parsed semantic version (`*semver.Version`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub metadata: String,
    pub original: String,
}

const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
/// Go's `\s`.
const WS: &str = r"[\t\n\x0C\r ]";

struct Regexes {
    version: regex::Regex,
    constraint: regex::Regex,
    range: regex::Regex,
    find: regex::Regex,
    valid: regex::Regex,
}

fn regexes() -> Option<&'static Regexes> {
    static RE: OnceLock<Option<Regexes>> = OnceLock::new();
    RE.get_or_init(|| {
        let version = r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$";
        Some(Regexes {
            version: regex::Regex::new(version).ok()?,
            constraint: regex::Regex::new(&format!(r"^{WS}*({OPS}){WS}*({CV}){WS}*$")).ok()?,
            range: regex::Regex::new(&format!(r"{WS}*({CV}){WS}+-{WS}+({CV}){WS}*")).ok()?,
            find: regex::Regex::new(&format!(r"({OPS}){WS}*({CV})")).ok()?,
            valid: regex::Regex::new(&format!(
                r"^({WS}*({OPS}){WS}*({CV}){WS}*)((?:{WS}+|,{WS}*)({OPS}){WS}*({CV}){WS}*)*$"
            ))
            .ok()?,
        })
    })
    .as_ref()
}

fn internal() -> String {
    "semver: internal regular expression error".into()
}

fn contains_only(s: &str, allowed: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(allowed)
}

fn is_allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn validate_prerelease(p: &str) -> Result<(), String> {
    for part in p.split('.') {
        if contains_only(part, |b| b.is_ascii_digit()) {
            if part.len() > 1 && part.starts_with('0') {
                return Err("Version segment starts with 0".into());
            }
        } else if !contains_only(part, is_allowed) {
            return Err("Invalid Prerelease string".into());
        }
    }
    Ok(())
}

fn validate_metadata(m: &str) -> Result<(), String> {
    if m.split('.').all(|part| contains_only(part, is_allowed)) {
        Ok(())
    } else {
        Err("Invalid Metadata string".into())
    }
}

fn parse_segment(s: &str) -> Result<u64, String> {
    s.parse::<u64>().map_err(|_| {
        format!(
            "Error parsing version segment: strconv.ParseUint: parsing \"{s}\": value out of range"
        )
    })
}

impl Version {
    /// `semver.NewVersion`: loose parsing (`v` prefix, missing minor/patch).
    pub fn parse(v: &str) -> Result<Version, SemverError> {
        Version::parse_text(v).map_err(SemverError)
    }

    fn parse_text(v: &str) -> Result<Version, String> {
        let re = regexes().ok_or_else(internal)?;
        let Some(m) = re.version.captures(v) else {
            return Err("Invalid Semantic Version".into());
        };
        let group = |i: usize| m.get(i).map_or("", |g| g.as_str());
        let mut out = Version {
            major: parse_segment(group(1))?,
            minor: 0,
            patch: 0,
            pre: group(5).to_string(),
            metadata: group(8).to_string(),
            original: v.to_string(),
        };
        if !group(2).is_empty() {
            out.minor = parse_segment(&group(2)[1..])?;
        }
        if !group(3).is_empty() {
            out.patch = parse_segment(&group(3)[1..])?;
        }
        if !out.pre.is_empty() {
            validate_prerelease(&out.pre)?;
        }
        if !out.metadata.is_empty() {
            validate_metadata(&out.metadata)?;
        }
        Ok(out)
    }

    /// `Version.String()`: canonical, without a `v` prefix.
    pub fn to_canonical(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }

    /// `Version.Compare`: -1, 0 or 1; metadata is ignored, a prerelease sorts first.
    pub fn compare(&self, o: &Version) -> i64 {
        let seg = |a: u64, b: u64| match a.cmp(&b) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        };
        for d in [
            seg(self.major, o.major),
            seg(self.minor, o.minor),
            seg(self.patch, o.patch),
        ] {
            if d != 0 {
                return d;
            }
        }
        match (self.pre.is_empty(), o.pre.is_empty()) {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => -1,
            (false, false) => compare_prerelease(&self.pre, &o.pre),
        }
    }

    fn less_than(&self, o: &Version) -> bool {
        self.compare(o) < 0
    }

    fn v_prefix(&self) -> &'static str {
        if self.original.starts_with('v') {
            "v"
        } else {
            ""
        }
    }

    fn with_original(mut self, prefix: &str) -> Version {
        self.original = format!("{prefix}{}", self.to_canonical());
        self
    }
}

fn compare_prerelease(a: &str, b: &str) -> i64 {
    let sa: Vec<&str> = a.split('.').collect();
    let sb: Vec<&str> = b.split('.').collect();
    for i in 0..sa.len().max(sb.len()) {
        let d = compare_pre_part(
            sa.get(i).copied().unwrap_or(""),
            sb.get(i).copied().unwrap_or(""),
        );
        if d != 0 {
            return d;
        }
    }
    0
}

fn compare_pre_part(s: &str, o: &str) -> i64 {
    if s == o {
        return 0;
    }
    if s.is_empty() {
        return -1;
    }
    if o.is_empty() {
        return 1;
    }
    // strconv.ParseUint: digits only (a leading `+` or `-` makes it a string).
    let num = |x: &str| -> Option<u64> {
        if x.bytes().all(|b| b.is_ascii_digit()) {
            x.parse().ok()
        } else {
            None
        }
    };
    match (num(s), num(o)) {
        (None, None) => {
            if s > o {
                1
            } else {
                -1
            }
        }
        (Some(_), None) => -1,
        (None, Some(_)) => 1,
        (Some(a), Some(b)) => {
            if a > b {
                1
            } else {
                -1
            }
        }
    }
}

/// One parsed constraint such as `>=1.2` or `~2.x`.
#[derive(Debug, Clone)]
struct Constraint {
    con: Version,
    op: String,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "*" | "X")
}

fn parse_constraint(c: &str) -> Result<Constraint, String> {
    let re = regexes().ok_or_else(internal)?;
    if c.is_empty() {
        return Ok(Constraint {
            con: Version::parse_text("0.0.0")?,
            op: String::new(),
            minor_dirty: false,
            patch_dirty: false,
            dirty: true,
        });
    }
    let Some(m) = re.constraint.captures(c) else {
        return Err(format!("improper constraint: {c}"));
    };
    let group = |i: usize| m.get(i).map_or("", |g| g.as_str());
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    let strip = |s: &'_ str| s.strip_prefix('.').unwrap_or(s).to_string();
    let ver = if is_x(group(3)) || group(3).is_empty() {
        dirty = true;
        format!("0.0.0{}", group(6))
    } else if is_x(&strip(group(4))) || group(4).is_empty() {
        minor_dirty = true;
        dirty = true;
        format!("{}.0.0{}", group(3), group(6))
    } else if is_x(&strip(group(5))) || group(5).is_empty() {
        dirty = true;
        patch_dirty = true;
        format!("{}{}.0{}", group(3), group(4), group(6))
    } else {
        group(2).to_string()
    };
    let con = Version::parse_text(&ver).map_err(|_| "constraint Parser Error".to_string())?;
    Ok(Constraint {
        con,
        op: group(1).to_string(),
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

impl Constraint {
    fn check(&self, v: &Version) -> bool {
        let c = &self.con;
        // A prerelease only satisfies constraints that mention a prerelease (issue 21).
        let pre_blocked = !v.pre.is_empty() && c.pre.is_empty();
        match self.op.as_str() {
            "" | "=" => {
                if pre_blocked {
                    false
                } else if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(c) == 0
                }
            }
            "!=" => self.not_equal(v),
            ">" => {
                if pre_blocked {
                    return false;
                }
                if !self.dirty {
                    return v.compare(c) == 1;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    v.compare(c) == 1
                }
            }
            "<" => !pre_blocked && v.compare(c) < 0,
            ">=" | "=>" => !pre_blocked && v.compare(c) >= 0,
            "<=" | "=<" => {
                if pre_blocked {
                    return false;
                }
                if !self.dirty {
                    return v.compare(c) <= 0;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            "~" | "~>" => self.tilde(v),
            "^" => self.caret(v),
            _ => false,
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if !v.pre.is_empty() && c.pre.is_empty() {
            return false;
        }
        if v.less_than(c) {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.con;
        if !v.pre.is_empty() && c.pre.is_empty() {
            return false;
        }
        if v.less_than(c) {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        c.patch == v.patch
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if self.dirty {
            if !v.pre.is_empty() && c.pre.is_empty() {
                return false;
            }
            if c.major != v.major {
                return true;
            }
            if c.minor != v.minor && !self.minor_dirty {
                return true;
            } else if self.minor_dirty {
                return false;
            } else if c.patch != v.patch && !self.patch_dirty {
                return true;
            } else if self.patch_dirty {
                if !v.pre.is_empty() || !c.pre.is_empty() {
                    return compare_prerelease(&v.pre, &c.pre) != 0;
                }
                return false;
            }
        }
        v.compare(c) != 0
    }
}

/// `semver.Constraints`: OR groups of AND-ed constraints.
#[derive(Debug, Clone)]
pub struct Constraints {
    groups: Vec<Vec<Constraint>>,
}

/// `rewriteRange`: `1.2 - 1.4` becomes `>= 1.2, <= 1.4 `.
fn rewrite_range(input: &str, re: &Regexes) -> String {
    let mut out = input.to_string();
    for m in re.range.captures_iter(input) {
        let (Some(whole), Some(a), Some(b)) = (m.get(0), m.get(1), m.get(11)) else {
            continue;
        };
        let replacement = format!(">= {}, <= {} ", a.as_str(), b.as_str());
        out = out.replacen(whole.as_str(), &replacement, 1);
    }
    out
}

impl Constraints {
    /// `semver.NewConstraint`.
    pub fn parse(c: &str) -> Result<Constraints, SemverError> {
        Constraints::parse_text(c).map_err(SemverError)
    }

    fn parse_text(c: &str) -> Result<Constraints, String> {
        let re = regexes().ok_or_else(internal)?;
        let c = rewrite_range(c, re);
        let mut groups = Vec::new();
        for part in c.split("||") {
            if !re.valid.is_match(part) {
                return Err(format!("improper constraint: {part}"));
            }
            let mut found: Vec<&str> = re.find.find_iter(part).map(|m| m.as_str()).collect();
            if found.is_empty() {
                found.push(part);
            }
            let group = found
                .into_iter()
                .map(parse_constraint)
                .collect::<Result<Vec<_>, _>>()?;
            groups.push(group);
        }
        Ok(Constraints { groups })
    }

    /// `Constraints.Check`.
    pub fn check(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .any(|group| group.iter().all(|c| c.check(v)))
    }
}

/// Sprig's `semverCompare`.
pub(crate) fn semver_compare(constraint: &str, version: &str) -> Result<bool, String> {
    let c = Constraints::parse_text(constraint)?;
    let v = Version::parse_text(version)?;
    Ok(c.check(&v))
}

/// A `*semver.Version` (or, from `IncMajor` and friends, a `semver.Version`) in a template.
#[derive(Debug)]
pub struct VersionObject {
    pub version: Version,
    by_value: bool,
}

impl VersionObject {
    pub fn new(version: Version) -> VersionObject {
        VersionObject {
            version,
            by_value: false,
        }
    }

    fn value(version: Version) -> Value {
        Value::Object(Arc::new(VersionObject {
            version,
            by_value: true,
        }))
    }
}

/// The version behind a `*semver.Version` argument (its `String()` parses back to it).
fn version_arg(args: &[Value]) -> Result<Version, FuncError> {
    match args.first() {
        Some(Value::Object(o)) if o.type_name() == "*semver.Version" => {
            Version::parse_text(&o.go_string()).map_err(FuncError::new)
        }
        Some(Value::Nil) | None => Err(FuncError::new("invalid value; expected *semver.Version")),
        Some(other) => Err(FuncError::new(format!(
            "wrong type for value; expected *semver.Version; got {}",
            other.type_name()
        ))),
    }
}

fn string_arg(args: &[Value]) -> Result<&str, FuncError> {
    match args.first() {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Nil) | None => Err(FuncError::new("invalid value; expected string")),
        Some(other) => Err(FuncError::new(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        ))),
    }
}

impl Object for VersionObject {
    fn type_name(&self) -> &str {
        if self.by_value {
            "semver.Version"
        } else {
            "*semver.Version"
        }
    }

    fn kind_name(&self) -> &'static str {
        if self.by_value { "struct" } else { "ptr" }
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, FuncError>> {
        let v = &self.version;
        let as_int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
        let pointer_only = matches!(
            name,
            "Original"
                | "LessThan"
                | "LessThanEqual"
                | "GreaterThan"
                | "GreaterThanEqual"
                | "Equal"
                | "Compare"
        );
        if pointer_only && self.by_value {
            // Methods with pointer receivers are not in a Version value's method set.
            return None;
        }
        Some(match name {
            "Major" => Ok(as_int(v.major)),
            "Minor" => Ok(as_int(v.minor)),
            "Patch" => Ok(as_int(v.patch)),
            "Prerelease" => Ok(Value::from(v.pre.as_str())),
            "Metadata" => Ok(Value::from(v.metadata.as_str())),
            "Original" => Ok(Value::from(v.original.as_str())),
            "String" => Ok(Value::from(v.to_canonical())),
            "Compare" => version_arg(args).map(|o| Value::Int(v.compare(&o))),
            "LessThan" => version_arg(args).map(|o| Value::Bool(v.compare(&o) < 0)),
            "LessThanEqual" => version_arg(args).map(|o| Value::Bool(v.compare(&o) <= 0)),
            "GreaterThan" => version_arg(args).map(|o| Value::Bool(v.compare(&o) > 0)),
            "GreaterThanEqual" => version_arg(args).map(|o| Value::Bool(v.compare(&o) >= 0)),
            "Equal" => version_arg(args).map(|o| Value::Bool(v.compare(&o) == 0)),
            "IncPatch" => {
                let mut next = v.clone();
                if v.pre.is_empty() {
                    next.patch = v.patch.wrapping_add(1);
                }
                next.pre.clear();
                next.metadata.clear();
                Ok(VersionObject::value(next.with_original(v.v_prefix())))
            }
            "IncMinor" => {
                let mut next = v.clone();
                next.pre.clear();
                next.metadata.clear();
                next.patch = 0;
                next.minor = v.minor.wrapping_add(1);
                Ok(VersionObject::value(next.with_original(v.v_prefix())))
            }
            "IncMajor" => {
                let mut next = v.clone();
                next.pre.clear();
                next.metadata.clear();
                next.patch = 0;
                next.minor = 0;
                next.major = v.major.wrapping_add(1);
                Ok(VersionObject::value(next.with_original(v.v_prefix())))
            }
            "SetPrerelease" => string_arg(args).and_then(|pre| {
                if !pre.is_empty() {
                    validate_prerelease(pre).map_err(FuncError::new)?;
                }
                let mut next = v.clone();
                next.pre = pre.to_string();
                Ok(VersionObject::value(next.with_original(v.v_prefix())))
            }),
            "SetMetadata" => string_arg(args).and_then(|meta| {
                if !meta.is_empty() {
                    validate_metadata(meta).map_err(FuncError::new)?;
                }
                let mut next = v.clone();
                next.metadata = meta.to_string();
                Ok(VersionObject::value(next.with_original(v.v_prefix())))
            }),
            _ => return None,
        })
    }

    fn go_string(&self) -> String {
        self.version.to_canonical()
    }

    fn to_data(&self) -> Option<Value> {
        Some(Value::from(self.version.to_canonical()))
    }
}

pub fn register(map: &mut FuncMap) {
    map.insert(
        "semverCompare",
        Func::pure(&[Ty::String, Ty::String], None, |a| {
            let c = a.first().and_then(Value::as_str).unwrap_or("");
            let v = a.get(1).and_then(Value::as_str).unwrap_or("");
            semver_compare(c, v)
                .map(Value::Bool)
                .map_err(FuncError::new)
        }),
    );
    map.insert(
        "semver",
        Func::pure(&[Ty::String], None, |a| {
            let v = a.first().and_then(Value::as_str).unwrap_or("");
            let version = Version::parse_text(v).map_err(FuncError::new)?;
            Ok(Value::Object(Arc::new(VersionObject::new(version))))
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::super::testing::{call, s, show};
    use super::*;

    /// Masterminds/semver v3.3.0 `TestConstraintCheck` and `TestConstraintsCheck`.
    const CHECKS: &[(&str, &str, bool)] = &[
        ("=2.0.0", "1.2.3", false),
        ("=2.0.0", "2.0.0", true),
        ("=2.0", "1.2.3", false),
        ("=2.0", "2.0.0", true),
        ("=2.0", "2.0.1", true),
        ("4.1", "4.1.0", true),
        ("!=4.1.0", "4.1.0", false),
        ("!=4.1.0", "4.1.1", true),
        ("!=4.1", "4.1.0", false),
        ("!=4.1", "4.1.1", false),
        ("!=4.1", "5.1.0-alpha.1", false),
        ("!=4.1-alpha", "4.1.0", true),
        ("!=4.1", "5.1.0", true),
        ("<11", "0.1.0", true),
        ("<11", "11.1.0", false),
        ("<1.1", "0.1.0", true),
        ("<1.1", "1.1.0", false),
        ("<1.1", "1.1.1", false),
        ("<=11", "1.2.3", true),
        ("<=11", "12.2.3", false),
        ("<=11", "11.2.3", true),
        ("<=1.1", "1.2.3", false),
        ("<=1.1", "0.1.0", true),
        ("<=1.1", "1.1.0", true),
        ("<=1.1", "1.1.1", true),
        (">1.1", "4.1.0", true),
        (">1.1", "1.1.0", false),
        (">0", "0", false),
        (">0", "1", true),
        (">0", "0.0.1-alpha", false),
        (">0.0", "0.0.1-alpha", false),
        (">0-0", "0.0.1-alpha", false),
        (">0.0-0", "0.0.1-alpha", false),
        (">0", "0.0.0-alpha", false),
        (">0-0", "0.0.0-alpha", false),
        (">0.0.0-0", "0.0.0-alpha", true),
        (">1.2.3-alpha.1", "1.2.3-alpha.2", true),
        (">1.2.3-alpha.1", "1.3.3-alpha.2", true),
        (">11", "11.1.0", false),
        (">11.1", "11.1.0", false),
        (">11.1", "11.1.1", false),
        (">11.1", "11.2.1", true),
        (">=11", "11.1.2", true),
        (">=11.1", "11.1.2", true),
        (">=11.1", "11.0.2", false),
        (">=1.1", "4.1.0", true),
        (">=1.1", "1.1.0", true),
        (">=1.1", "0.0.9", false),
        (">=0", "0.0.1-alpha", false),
        (">=0.0", "0.0.1-alpha", false),
        (">=0-0", "0.0.1-alpha", true),
        (">=0.0-0", "0.0.1-alpha", true),
        (">=0", "0.0.0-alpha", false),
        (">=0-0", "0.0.0-alpha", true),
        (">=0.0.0-0", "0.0.0-alpha", true),
        (">=0.0.0-0", "1.2.3", true),
        (">=0.0.0-0", "3.4.5-beta.1", true),
        ("<0", "0.0.0-alpha", false),
        ("<0-z", "0.0.0-alpha", true),
        (">=0", "0", true),
        ("=0", "1", false),
        ("*", "1", true),
        ("*", "4.5.6", true),
        ("*", "1.2.3-alpha.1", false),
        ("*-0", "1.2.3-alpha.1", true),
        ("2.*", "1", false),
        ("2.*", "3.4.5", false),
        ("2.*", "2.1.1", true),
        ("2.1.*", "2.1.1", true),
        ("2.1.*", "2.2.1", false),
        ("2", "1", false),
        ("2", "3.4.5", false),
        ("2", "2.1.1", true),
        ("2.1", "2.1.1", true),
        ("2.1", "2.2.1", false),
        ("~1.2.3", "1.2.4", true),
        ("~1.2.3", "1.3.4", false),
        ("~1.2", "1.2.4", true),
        ("~1.2", "1.3.4", false),
        ("~1", "1.2.4", true),
        ("~1", "2.3.4", false),
        ("~0.2.3", "0.2.5", true),
        ("~0.2.3", "0.3.5", false),
        ("~1.2.3-beta.2", "1.2.3-beta.4", true),
        ("~1.2.3-beta.2", "1.2.4-beta.2", true),
        ("~1.2.3-beta.2", "1.3.4-beta.2", false),
        ("^1.2.3", "1.8.9", true),
        ("^1.2.3", "2.8.9", false),
        ("^1.2.3", "1.2.1", false),
        ("^1.1.0", "2.1.0", false),
        ("^1.2.0", "2.2.1", false),
        ("^1.2.0", "1.2.1-alpha.1", false),
        ("^1.2.0-alpha.0", "1.2.1-alpha.1", true),
        ("^1.2.0-alpha.0", "1.2.1-alpha.0", true),
        ("^1.2.0-alpha.2", "1.2.0-alpha.1", false),
        ("^1.2", "1.8.9", true),
        ("^1.2", "2.8.9", false),
        ("^1", "1.8.9", true),
        ("^1", "2.8.9", false),
        ("^0.2.3", "0.2.5", true),
        ("^0.2.3", "0.5.6", false),
        ("^0.2", "0.2.5", true),
        ("^0.2", "0.5.6", false),
        ("^0.0.3", "0.0.3", true),
        ("^0.0.3", "0.0.4", false),
        ("^0.0", "0.0.3", true),
        ("^0.0", "0.1.4", false),
        ("^0.0", "1.0.4", false),
        ("^0", "0.2.3", true),
        ("^0", "1.1.4", false),
        ("^0.2.3-beta.2", "0.2.3-beta.4", true),
        ("^0.2.3-beta.2", "0.2.4-beta.2", true),
        ("^0.2.3-beta.2", "0.3.4-beta.2", false),
        ("^0.2.3-beta.2", "0.2.3-beta.2", true),
        ("*", "1.2.3", true),
        ("~0.0.0", "1.2.3", true),
        ("0.x.x", "1.2.3", false),
        ("0.0.x", "1.2.3", false),
        ("0.0.0", "1.2.3", false),
        ("*", "1.2.3", true),
        ("^0.0.0", "1.2.3", false),
        ("= 2.0", "1.2.3", false),
        ("= 2.0", "2.0.0", true),
        ("4.1", "4.1.0", true),
        ("4.1.x", "4.1.3", true),
        ("1.x", "1.4", true),
        ("!=4.1", "4.1.0", false),
        ("!=4.1-alpha", "4.1.0-alpha", false),
        ("!=4.1-alpha", "4.1.1-alpha", false),
        ("!=4.1-alpha", "4.1.0", true),
        ("!=4.1", "5.1.0", true),
        ("!=4.x", "5.1.0", true),
        ("!=4.x", "4.1.0", false),
        ("!=4.1.x", "4.2.0", true),
        ("!=4.2.x", "4.2.3", false),
        (">1.1", "4.1.0", true),
        (">1.1", "1.1.0", false),
        ("<1.1", "0.1.0", true),
        ("<1.1", "1.1.0", false),
        ("<1.1", "1.1.1", false),
        ("<1.x", "1.1.1", false),
        ("<1.x", "0.1.1", true),
        ("<1.x", "2.0.0", false),
        ("<1.1.x", "1.2.1", false),
        ("<1.1.x", "1.1.500", false),
        ("<1.1.x", "1.0.500", true),
        ("<1.2.x", "1.1.1", true),
        (">=1.1", "4.1.0", true),
        (">=1.1", "4.1.0-beta", false),
        (">=1.1", "1.1.0", true),
        (">=1.1", "0.0.9", false),
        ("<=1.1", "0.1.0", true),
        ("<=1.1", "0.1.0-alpha", false),
        ("<=1.1-a", "0.1.0-alpha", true),
        ("<=1.1", "1.1.0", true),
        ("<=1.x", "1.1.0", true),
        ("<=2.x", "3.0.0", false),
        ("<=1.1", "1.1.1", true),
        ("<=1.1.x", "1.2.500", false),
        ("<=4.5", "3.4.0", true),
        ("<=4.5", "3.7.0", true),
        ("<=4.5", "4.6.3", false),
        (">1.1, <2", "1.1.1", false),
        (">1.1, <2", "1.2.1", true),
        (">1.1, <3", "4.3.2", false),
        (">=1.1, <2, !=1.2.3", "1.2.3", false),
        (">1.1 <2", "1.1.1", false),
        (">1.1 <2", "1.2.1", true),
        (">1.1    <3", "4.3.2", false),
        (">=1.1    <2    !=1.2.3", "1.2.3", false),
        (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
        (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false),
        (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true),
        (">=1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
        (">=1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
        (">=1.1 <2 !=1.2.3", "1.2.3", false),
        (">=1.1 <2 !=1.2.3 || > 3", "4.1.2", true),
        (">=1.1 <2 !=1.2.3 || > 3", "3.1.2", false),
        (">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", true),
        (">=1.1 <2 !=1.2.3 || > 3", "3.0.0", false),
        (">=1.1 <2 !=1.2.3 || > 3", "1.2.3", false),
        ("> 1.1, <     2", "1.1.1", false),
        (">   1.1, <2", "1.2.1", true),
        (">1.1, <  3", "4.3.2", false),
        (">= 1.1, <     2, !=1.2.3", "1.2.3", false),
        ("> 1.1 < 2", "1.1.1", false),
        (">1.1 < 2", "1.2.1", true),
        ("> 1.1    <3", "4.3.2", false),
        (">=1.1    < 2    != 1.2.3", "1.2.3", false),
        (">= 1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
        (">= 1.1, <2, != 1.2.3 || > 3", "3.1.2", false),
        (">= 1.1, <2, != 1.2.3 || >= 3", "3.0.0", true),
        (">= 1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
        (">= 1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
        (">= 1.1 <2 != 1.2.3", "1.2.3", false),
        (">= 1.1 <2 != 1.2.3 || > 3", "4.1.2", true),
        (">= 1.1 <2 != 1.2.3 || > 3", "3.1.2", false),
        (">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", true),
        (">= 1.1 < 2 !=1.2.3 || > 3", "3.0.0", false),
        (">=1.1 < 2 !=1.2.3 || > 3", "1.2.3", false),
        ("1.1 - 2", "1.1.1", true),
        ("1.5.0 - 4.5", "3.7.0", true),
        ("1.1-3", "4.3.2", false),
        ("^1.1", "1.1.1", true),
        ("^1.1", "4.3.2", false),
        ("^1.x", "1.1.1", true),
        ("^2.x", "1.1.1", false),
        ("^1.x", "2.1.1", false),
        ("^1.x", "1.1.1-beta1", false),
        ("^1.1.2-alpha", "1.2.1-beta1", true),
        ("^1.2.x-alpha", "1.1.1-beta1", false),
        ("^0.0.1", "0.0.1", true),
        ("^0.0.1", "0.3.1", false),
        ("~*", "2.1.1", true),
        ("~1", "2.1.1", false),
        ("~1", "1.3.5", true),
        ("~1", "1.4", true),
        ("~1.x", "2.1.1", false),
        ("~1.x", "1.3.5", true),
        ("~1.x", "1.4", true),
        ("~1.1", "1.1.1", true),
        ("~1.1", "1.1.1-alpha", false),
        ("~1.1-alpha", "1.1.1-beta", true),
        ("~1.1.1-beta", "1.1.1-alpha", false),
        ("~1.1.1-beta", "1.1.1", true),
        ("~1.2.3", "1.2.5", true),
        ("~1.2.3", "1.2.2", false),
        ("~1.2.3", "1.3.2", false),
        ("~1.1", "1.2.3", false),
        ("~1.3", "2.4.5", false),
        ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", true),
        ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", true),
    ];
    /// `TestNewVersion`: whether parsing fails.
    const PARSES: &[(&str, bool)] = &[
        ("1.2.3", false),
        ("1.2.3-alpha.01", true),
        ("1.2.3+test.01", false),
        ("1.2.3-alpha.-1", false),
        ("v1.2.3", false),
        ("1.0", false),
        ("v1.0", false),
        ("1", false),
        ("v1", false),
        ("1.2.beta", true),
        ("v1.2.beta", true),
        ("foo", true),
        ("1.2-5", false),
        ("v1.2-5", false),
        ("1.2-beta.5", false),
        ("v1.2-beta.5", false),
        ("\n1.2", true),
        ("\nv1.2", true),
        ("1.2.0-x.Y.0+metadata", false),
        ("v1.2.0-x.Y.0+metadata", false),
        ("1.2.0-x.Y.0+metadata-width-hypen", false),
        ("v1.2.0-x.Y.0+metadata-width-hypen", false),
        ("1.2.3-rc1-with-hypen", false),
        ("v1.2.3-rc1-with-hypen", false),
        ("1.2.3.4", true),
        ("v1.2.3.4", true),
        ("1.2.2147483648", false),
        ("1.2147483648.3", false),
        ("2147483648.3.0", false),
        ("12.3.4.1234", true),
        ("12.23.4.1234", true),
        ("12.3.34.1234", true),
        ("20221209-update-renovatejson-v4", false),
    ];
    /// `TestCompare`.
    const COMPARES: &[(&str, &str, i64)] = &[
        ("1.2.3", "1.5.1", -1),
        ("2.2.3", "1.5.1", 1),
        ("2.2.3", "2.2.2", 1),
        ("3.2-beta", "3.2-beta", 0),
        ("1.3", "1.1.4", 1),
        ("4.2", "4.2-beta", 1),
        ("4.2-beta", "4.2", -1),
        ("4.2-alpha", "4.2-beta", -1),
        ("4.2-alpha", "4.2-alpha", 0),
        ("4.2-beta.2", "4.2-beta.1", 1),
        ("4.2-beta2", "4.2-beta1", 1),
        ("4.2-beta", "4.2-beta.2", -1),
        ("4.2-beta", "4.2-beta.foo", -1),
        ("4.2-beta.2", "4.2-beta", 1),
        ("4.2-beta.foo", "4.2-beta", 1),
        ("1.2+bar", "1.2+baz", 0),
        ("1.0.0-beta.4", "1.0.0-beta.-2", -1),
        ("1.0.0-beta.-2", "1.0.0-beta.-3", -1),
        ("1.0.0-beta.-3", "1.0.0-beta.5", 1),
    ];
    /// `TestInc`: version, String(), method, Original().
    const INCS: &[(&str, &str, &str, &str)] = &[
        ("1.2.3", "1.2.4", "patch", "1.2.4"),
        ("v1.2.4", "1.2.5", "patch", "v1.2.5"),
        ("1.2.3", "1.3.0", "minor", "1.3.0"),
        ("v1.2.4", "1.3.0", "minor", "v1.3.0"),
        ("1.2.3", "2.0.0", "major", "2.0.0"),
        ("v1.2.4", "2.0.0", "major", "v2.0.0"),
        ("1.2.3+meta", "1.2.4", "patch", "1.2.4"),
        ("1.2.3-beta+meta", "1.2.3", "patch", "1.2.3"),
        ("v1.2.4-beta+meta", "1.2.4", "patch", "v1.2.4"),
        ("1.2.3-beta+meta", "1.3.0", "minor", "1.3.0"),
        ("v1.2.4-beta+meta", "1.3.0", "minor", "v1.3.0"),
        ("1.2.3-beta+meta", "2.0.0", "major", "2.0.0"),
        ("v1.2.4-beta+meta", "2.0.0", "major", "v2.0.0"),
    ];
    /// `TestCoerceString`.
    const STRINGS: &[(&str, &str)] = &[
        ("1.2.3", "1.2.3"),
        ("v1.2.3", "1.2.3"),
        ("1.0", "1.0.0"),
        ("v1.0", "1.0.0"),
        ("1", "1.0.0"),
        ("v1", "1.0.0"),
        ("1.2-5", "1.2.0-5"),
        ("v1.2-5", "1.2.0-5"),
        ("1.2-beta.5", "1.2.0-beta.5"),
        ("v1.2-beta.5", "1.2.0-beta.5"),
        ("1.2.0-x.Y.0+metadata", "1.2.0-x.Y.0+metadata"),
        ("v1.2.0-x.Y.0+metadata", "1.2.0-x.Y.0+metadata"),
        (
            "1.2.0-x.Y.0+metadata-width-hypen",
            "1.2.0-x.Y.0+metadata-width-hypen",
        ),
        (
            "v1.2.0-x.Y.0+metadata-width-hypen",
            "1.2.0-x.Y.0+metadata-width-hypen",
        ),
        ("1.2.3-rc1-with-hypen", "1.2.3-rc1-with-hypen"),
        ("v1.2.3-rc1-with-hypen", "1.2.3-rc1-with-hypen"),
    ];

    #[test]
    fn constraint_checks_from_masterminds() {
        for (c, v, want) in CHECKS {
            assert_eq!(semver_compare(c, v), Ok(*want), "{c:?} {v:?}");
        }
    }

    #[test]
    fn helm_chart_idioms() {
        let cases: &[(&str, &str, bool)] = &[
            (">=1.21-0", "v1.25.3", true),
            (">=1.21-0", "v1.25.3-eks-2d98532", true),
            (">=1.21-0", "v1.20.15-gke.100", false),
            (">=1.21", "v1.25.3-eks-2d98532", false),
            ("<1.19-0", "v1.18.20", true),
            (">=1.16-0, <1.19-0", "1.18.0", true),
            (">= 1.16-0 < 1.19-0", "1.19.0", false),
            ("^1.2.3", "v1.2.4", true),
            ("~1.2.3 || >=3", "3.0.0", true),
            (">=1.2.3 <= 1.5", "1.5.9", true),
            ("1.x - 2.x", "2.9.0", true),
            ("=v1.2.3", "1.2.3", true),
            ("1.2.3+meta", "1.2.3", true),
        ];
        for (c, v, want) in cases {
            assert_eq!(semver_compare(c, v), Ok(*want), "{c:?} {v:?}");
            assert_eq!(
                show("semverCompare", &[s(c), s(v)]).as_deref(),
                Ok(if *want { "true" } else { "false" })
            );
        }
    }

    #[test]
    fn constraint_errors() {
        let cases: &[(&str, &str, &str)] = &[
            ("abc", "1.0", "improper constraint: abc"),
            ("", "1", "improper constraint: "),
            (">= bar", "1", "improper constraint: >= bar"),
            ("12.3.4.1234", "1", "improper constraint: 12.3.4.1234"),
            ("12.3.34~ 1.2.3", "1", "improper constraint: 12.3.34~ 1.2.3"),
            ("1 || x.y", "1", "improper constraint:  x.y"),
            (">=1.0", "abc", "Invalid Semantic Version"),
            (">=1.0", "1.2.3-01", "Version segment starts with 0"),
        ];
        for (c, v, want) in cases {
            assert_eq!(
                show("semverCompare", &[s(c), s(v)]),
                Err(want.to_string()),
                "{c:?} {v:?}"
            );
        }
    }

    #[test]
    fn new_version_from_masterminds() {
        for (v, fails) in PARSES {
            assert_eq!(Version::parse(v).is_err(), *fails, "{v:?}");
        }
        for (v, want) in STRINGS {
            assert_eq!(show("semver", &[s(v)]).as_deref(), Ok(*want), "{v:?}");
        }
        assert_eq!(
            show("semver", &[s("99999999999999999999.0.0")]),
            Err("Error parsing version segment: strconv.ParseUint: parsing \"99999999999999999999\": value out of range".into())
        );
        assert_eq!(
            show("semver", &[s("1.2.3-alpha.01")]),
            Err("Version segment starts with 0".into())
        );
    }

    #[test]
    fn compare_and_increment_from_masterminds() {
        for (a, b, want) in COMPARES {
            let (a, b) = (Version::parse(a).unwrap(), Version::parse(b).unwrap());
            assert_eq!(a.compare(&b), *want, "{a:?} {b:?}");
        }
        for (v, string, how, original) in INCS {
            let obj = VersionObject::new(Version::parse(v).unwrap());
            let method = match *how {
                "patch" => "IncPatch",
                "minor" => "IncMinor",
                _ => "IncMajor",
            };
            let Some(Ok(Value::Object(next))) = obj.call_method(method, &[]) else {
                panic!("{method} failed");
            };
            assert_eq!(next.go_string(), *string);
            assert_eq!(next.type_name(), "semver.Version");
            assert!(next.call_method("Original", &[]).is_none());
            assert_eq!(next.to_data(), Some(Value::from(*string)));
            let _ = original;
        }
    }

    #[test]
    fn version_object_methods() {
        let v = call("semver", &[s("v1.2.3-beta.1+build.5")]).unwrap();
        let Value::Object(obj) = &v else {
            panic!("not an object")
        };
        assert_eq!(obj.type_name(), "*semver.Version");
        assert_eq!(obj.kind_name(), "ptr");
        assert_eq!(obj.go_string(), "1.2.3-beta.1+build.5");
        let m = |name: &str, args: &[Value]| obj.call_method(name, args).unwrap();
        assert_eq!(m("Major", &[]), Ok(Value::Int(1)));
        assert_eq!(m("Minor", &[]), Ok(Value::Int(2)));
        assert_eq!(m("Patch", &[]), Ok(Value::Int(3)));
        assert_eq!(m("Prerelease", &[]), Ok(s("beta.1")));
        assert_eq!(m("Metadata", &[]), Ok(s("build.5")));
        assert_eq!(m("Original", &[]), Ok(s("v1.2.3-beta.1+build.5")));
        assert_eq!(m("String", &[]), Ok(s("1.2.3-beta.1+build.5")));
        let other = call("semver", &[s("1.2.3")]).unwrap();
        assert_eq!(
            m("Compare", std::slice::from_ref(&other)),
            Ok(Value::Int(-1))
        );
        assert_eq!(
            m("LessThan", std::slice::from_ref(&other)),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            m("GreaterThan", std::slice::from_ref(&other)),
            Ok(Value::Bool(false))
        );
        assert_eq!(m("Equal", std::slice::from_ref(&v)), Ok(Value::Bool(true)));
        assert_eq!(
            m("Compare", &[s("1.2.3")]),
            Err(FuncError::new(
                "wrong type for value; expected *semver.Version; got string"
            ))
        );
        let Ok(Value::Object(pre)) = m("SetPrerelease", &[s("rc.1")]) else {
            panic!("SetPrerelease failed")
        };
        assert_eq!(pre.go_string(), "1.2.3-rc.1+build.5");
        assert_eq!(
            m("SetMetadata", &[s("a_b")]),
            Err(FuncError::new("Invalid Metadata string"))
        );
        assert!(obj.call_method("Nope", &[]).is_none());
    }
}
