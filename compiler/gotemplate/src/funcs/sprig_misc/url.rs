//! Go's `net/url` parsing and printing (`url.Parse`, `URL.String`, their escaping modes and
//! errors) and Sprig's `urlParse` and `urlJoin` built on them.

use crate::funcs::{Func, FuncError, FuncMap, Ty};
use crate::value::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    QueryComponent,
    Fragment,
}

fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone)
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => return c == b'?',
            Mode::UserPassword => return matches!(c, b'@' | b'/' | b'?' | b':'),
            Mode::QueryComponent => return true,
            Mode::Fragment => return false,
            Mode::Host | Mode::Zone => {}
        },
        _ => {}
    }
    if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
        return false;
    }
    true
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0C' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0B' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7F' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let n = c as u32;
                if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn escape_error(s: &str) -> String {
    format!("invalid URL escape {}", go_quote(s))
}

fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Go's `unescape`.
fn unescape(s: &str, mode: Mode) -> Result<String, String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len()
                    || !b[i + 1].is_ascii_hexdigit()
                    || !b[i + 2].is_ascii_hexdigit()
                {
                    let end = (i + 3).min(b.len());
                    return Err(escape_error(&String::from_utf8_lossy(&b[i..end])));
                }
                let esc = &s[i..i + 3];
                if mode == Mode::Host && unhex(b[i + 1]) < 8 && esc != "%25" {
                    return Err(escape_error(esc));
                }
                if mode == Mode::Zone {
                    let v = unhex(b[i + 1]) << 4 | unhex(b[i + 2]);
                    if esc != "%25" && v != b' ' && should_escape(v, Mode::Host) {
                        return Err(escape_error(esc));
                    }
                }
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(format!(
                        "invalid character {} in host name",
                        go_quote(&s[i..=i])
                    ));
                }
                i += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                out.push(unhex(b[i + 1]) << 4 | unhex(b[i + 2]));
                i += 3;
            }
            b'+' if mode == Mode::QueryComponent => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(super::encoding::bytes_to_string(out))
}

/// Go's `escape`, byte by byte.
fn escape(s: &str, mode: Mode) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if should_escape(c, mode) {
            if c == b' ' && mode == Mode::QueryComponent {
                out.push('+');
            } else {
                out.push('%');
                out.push(char::from(HEX[usize::from(c >> 4)]));
                out.push(char::from(HEX[usize::from(c & 15)]));
            }
        } else {
            out.push(char::from(c));
        }
    }
    // Every byte of a multi-byte character is escaped, so `out` is ASCII.
    out
}

/// `url.Userinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Userinfo {
    pub username: String,
    pub password: Option<String>,
}

impl Userinfo {
    fn to_go_string(&self) -> String {
        let mut s = escape(&self.username, Mode::UserPassword);
        if let Some(p) = &self.password {
            s.push(':');
            s.push_str(&escape(p, Mode::UserPassword));
        }
        s
    }
}

/// `url.URL` (the fields Sprig reads and writes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    pub opaque: String,
    pub user: Option<Userinfo>,
    pub host: String,
    pub path: String,
    pub raw_path: String,
    pub omit_host: bool,
    pub force_query: bool,
    pub raw_query: String,
    pub fragment: String,
    pub raw_fragment: String,
}

fn get_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err("missing protocol scheme".into());
                }
                return Ok((&raw[..i], &raw[i + 1..]));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn valid_optional_port(port: &str) -> bool {
    if port.is_empty() {
        return true;
    }
    match port.strip_prefix(':') {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

fn parse_host(host: &str) -> Result<String, String> {
    if host.starts_with('[') {
        let Some(i) = host.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        let colon_port = &host[i + 1..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
        if let Some(zone) = host[..i].find("%25") {
            let h1 = unescape(&host[..zone], Mode::Host)?;
            let h2 = unescape(&host[zone..i], Mode::Zone)?;
            let h3 = unescape(&host[i..], Mode::Host)?;
            return Ok(h1 + &h2 + &h3);
        }
    } else if let Some(i) = host.rfind(':') {
        let colon_port = &host[i..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
    }
    unescape(host, Mode::Host)
}

fn valid_userinfo(s: &str) -> bool {
    s.bytes().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b':'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
                    | b'@'
            )
    })
}

fn parse_authority(authority: &str) -> Result<(Option<Userinfo>, String), String> {
    let at = authority.rfind('@');
    let host = parse_host(match at {
        Some(i) => &authority[i + 1..],
        None => authority,
    })?;
    let Some(i) = at else {
        return Ok((None, host));
    };
    let userinfo = &authority[..i];
    if !valid_userinfo(userinfo) {
        return Err("net/url: invalid userinfo".into());
    }
    let user = match userinfo.split_once(':') {
        None => Userinfo {
            username: unescape(userinfo, Mode::UserPassword)?,
            password: None,
        },
        Some((u, p)) => Userinfo {
            username: unescape(u, Mode::UserPassword)?,
            password: Some(unescape(p, Mode::UserPassword)?),
        },
    };
    Ok((Some(user), host))
}

impl Url {
    /// `url.Parse`; errors read like Go's `*url.Error`.
    pub fn parse(raw: &str) -> Result<Url, String> {
        let (u, frag) = match raw.split_once('#') {
            Some((u, f)) => (u, Some(f)),
            None => (raw, None),
        };
        let mut url =
            Url::parse_no_fragment(u).map_err(|e| format!("parse {}: {e}", go_quote(u)))?;
        if let Some(frag) = frag
            && !frag.is_empty()
        {
            let f = unescape(frag, Mode::Fragment)
                .map_err(|e| format!("parse {}: {e}", go_quote(raw)))?;
            url.raw_fragment = if escape(&f, Mode::Fragment) == frag {
                String::new()
            } else {
                frag.to_string()
            };
            url.fragment = f;
        }
        Ok(url)
    }

    fn parse_no_fragment(raw: &str) -> Result<Url, String> {
        if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err("net/url: invalid control character in URL".into());
        }
        let mut url = Url::default();
        if raw == "*" {
            url.path = "*".into();
            return Ok(url);
        }
        let (scheme, mut rest) = get_scheme(raw)?;
        url.scheme = scheme.to_ascii_lowercase();
        if rest.ends_with('?') && rest.matches('?').count() == 1 {
            url.force_query = true;
            rest = &rest[..rest.len() - 1];
        } else if let Some((r, q)) = rest.split_once('?') {
            rest = r;
            url.raw_query = q.to_string();
        }
        if !rest.starts_with('/') {
            if !url.scheme.is_empty() {
                url.opaque = rest.to_string();
                return Ok(url);
            }
            let segment = rest.split('/').next().unwrap_or("");
            if segment.contains(':') {
                return Err("first path segment in URL cannot contain colon".into());
            }
        }
        if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
            let mut authority = &rest[2..];
            rest = "";
            if let Some(i) = authority.find('/') {
                rest = &authority[i..];
                authority = &authority[..i];
            }
            let (user, host) = parse_authority(authority)?;
            url.user = user;
            url.host = host;
        } else if !url.scheme.is_empty() && rest.starts_with('/') {
            url.omit_host = true;
        }
        let path = unescape(rest, Mode::Path)?;
        url.raw_path = if escape(&path, Mode::Path) == rest {
            String::new()
        } else {
            rest.to_string()
        };
        url.path = path;
        Ok(url)
    }

    /// `URL.Hostname()`.
    pub fn hostname(&self) -> &str {
        let mut host = self.host.as_str();
        if let Some(colon) = host.rfind(':')
            && valid_optional_port(&host[colon..])
        {
            host = &host[..colon];
        }
        if host.starts_with('[') && host.ends_with(']') && host.len() >= 2 {
            host = &host[1..host.len() - 1];
        }
        host
    }

    fn escaped_path(&self) -> String {
        if !self.raw_path.is_empty()
            && let Ok(p) = unescape(&self.raw_path, Mode::Path)
            && p == self.path
            && valid_encoded(&self.raw_path)
        {
            return self.raw_path.clone();
        }
        if self.path == "*" {
            return "*".into();
        }
        escape(&self.path, Mode::Path)
    }

    fn escaped_fragment(&self) -> String {
        if !self.raw_fragment.is_empty()
            && let Ok(f) = unescape(&self.raw_fragment, Mode::Fragment)
            && f == self.fragment
        {
            return self.raw_fragment.clone();
        }
        escape(&self.fragment, Mode::Fragment)
    }

    /// `URL.String()`.
    pub fn to_go_string(&self) -> String {
        let mut buf = String::new();
        if !self.scheme.is_empty() {
            buf.push_str(&self.scheme);
            buf.push(':');
        }
        if !self.opaque.is_empty() {
            buf.push_str(&self.opaque);
        } else {
            let has_authority =
                !self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some();
            let omit = self.omit_host && self.host.is_empty() && self.user.is_none();
            if has_authority && !omit {
                if !self.host.is_empty() || !self.path.is_empty() || self.user.is_some() {
                    buf.push_str("//");
                }
                if let Some(user) = &self.user {
                    buf.push_str(&user.to_go_string());
                    buf.push('@');
                }
                if !self.host.is_empty() {
                    buf.push_str(&escape(&self.host, Mode::Host));
                }
            }
            let path = self.escaped_path();
            if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
                buf.push('/');
            }
            if buf.is_empty() {
                let segment = path.split('/').next().unwrap_or("");
                if segment.contains(':') {
                    buf.push_str("./");
                }
            }
            buf.push_str(&path);
        }
        if self.force_query || !self.raw_query.is_empty() {
            buf.push('?');
            buf.push_str(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            buf.push('#');
            buf.push_str(&self.escaped_fragment());
        }
        buf
    }
}

/// Go's `validEncoded(s, encodePath)`.
fn valid_encoded(s: &str) -> bool {
    s.bytes().all(|c| match c {
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b':'
        | b'@' | b'[' | b']' | b'%' => true,
        c => !should_escape(c, Mode::Path),
    })
}

/// Sprig's `urlParse`.
pub fn url_parse(v: &str) -> Result<Value, FuncError> {
    let u = Url::parse(v).map_err(|e| FuncError::new(format!("unable to parse url: {e}")))?;
    let m = Map::new();
    m.insert("scheme", Value::from(u.scheme.as_str()));
    m.insert("host", Value::from(u.host.as_str()));
    m.insert("hostname", Value::from(u.hostname()));
    m.insert("path", Value::from(u.path.as_str()));
    m.insert("query", Value::from(u.raw_query.as_str()));
    m.insert("opaque", Value::from(u.opaque.as_str()));
    m.insert("fragment", Value::from(u.fragment.as_str()));
    m.insert(
        "userinfo",
        Value::from(
            u.user
                .as_ref()
                .map(Userinfo::to_go_string)
                .unwrap_or_default(),
        ),
    );
    Ok(Value::Map(m))
}

fn dict_get(d: &Map, key: &str) -> Result<String, FuncError> {
    match d.get(key) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.to_string()),
        Some(Value::Nil) => Err(FuncError::new(
            "runtime error: invalid memory address or nil pointer dereference",
        )),
        Some(other) => Err(FuncError::new(format!(
            "unable to parse {key} key, must be of type string, but {} found",
            other.kind_name()
        ))),
    }
}

/// Sprig's `urlJoin`.
pub fn url_join(d: &Map) -> Result<String, FuncError> {
    let mut u = Url {
        scheme: dict_get(d, "scheme")?,
        host: dict_get(d, "host")?,
        path: dict_get(d, "path")?,
        raw_query: dict_get(d, "query")?,
        opaque: dict_get(d, "opaque")?,
        fragment: dict_get(d, "fragment")?,
        ..Url::default()
    };
    let userinfo = dict_get(d, "userinfo")?;
    if !userinfo.is_empty() {
        let temp = Url::parse(&format!("proto://{userinfo}@host"))
            .map_err(|e| FuncError::new(format!("unable to parse userinfo in dict: {e}")))?;
        u.user = temp.user;
    }
    Ok(u.to_go_string())
}

pub fn register(map: &mut FuncMap) {
    map.insert(
        "urlParse",
        Func::pure(&[Ty::String], None, |a| {
            url_parse(a.first().and_then(Value::as_str).unwrap_or(""))
        }),
    );
    map.insert(
        "urlJoin",
        Func::pure(&[Ty::Map], None, |a| {
            let d = match a.first() {
                Some(Value::Map(m)) => m.clone(),
                _ => Map::new(),
            };
            url_join(&d).map(Value::from)
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::super::testing::{s, show};
    use super::*;

    fn parsed(url: &str) -> String {
        show("urlParse", &[s(url)]).unwrap_or_else(|e| e)
    }

    #[test]
    fn url_parse_like_sprig() {
        // Sprig's TestUrlParse.
        assert_eq!(
            parsed("proto://auth@host:80/path?query#fragment"),
            "map[fragment:fragment host:host:80 hostname:host opaque: path:/path query:query scheme:proto userinfo:auth]"
        );
        assert_eq!(
            parsed("mailto:user@example.com"),
            "map[fragment: host: hostname: opaque:user@example.com path: query: scheme:mailto userinfo:]"
        );
        assert_eq!(
            parsed("https://u%40x:p%3Aw@[::1]:8443/a%20b/c?x=1&y=%20#frag%20ment"),
            "map[fragment:frag ment host:[::1]:8443 hostname:::1 opaque: path:/a b/c query:x=1&y=%20 scheme:https userinfo:u%40x:p%3Aw]"
        );
        assert_eq!(
            parsed("HTTP://Example.com"),
            "map[fragment: host:Example.com hostname:Example.com opaque: path: query: scheme:http userinfo:]"
        );
        assert_eq!(
            parsed("a/b:c"),
            "map[fragment: host: hostname: opaque: path:a/b:c query: scheme: userinfo:]"
        );
    }

    #[test]
    fn url_parse_errors() {
        for (input, want) in [
            (
                "a:b/c:d",
                "map[fragment: host: hostname: opaque:b/c:d path: query: scheme:a userinfo:]",
            ),
            (
                ":foo",
                r#"unable to parse url: parse ":foo": missing protocol scheme"#,
            ),
            (
                "http://a b.com/",
                r#"unable to parse url: parse "http://a b.com/": invalid character " " in host name"#,
            ),
            (
                "http://host/%zz",
                r#"unable to parse url: parse "http://host/%zz": invalid URL escape "%zz""#,
            ),
            (
                "http://host:port/",
                r#"unable to parse url: parse "http://host:port/": invalid port ":port" after host"#,
            ),
            (
                "http://[::1/",
                r#"unable to parse url: parse "http://[::1/": missing ']' in host"#,
            ),
            (
                "a:b\x01",
                r#"unable to parse url: parse "a:b\x01": net/url: invalid control character in URL"#,
            ),
            (
                "ab:c/d",
                "map[fragment: host: hostname: opaque:c/d path: query: scheme:ab userinfo:]",
            ),
            (
                "x/y:z/w",
                "map[fragment: host: hostname: opaque: path:x/y:z/w query: scheme: userinfo:]",
            ),
            (
                "1a:b",
                r#"unable to parse url: parse "1a:b": first path segment in URL cannot contain colon"#,
            ),
        ] {
            assert_eq!(parsed(input), want, "{input:?}");
        }
    }

    fn join(entries: &[(&str, Value)]) -> Result<String, String> {
        let m: Map = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        show("urlJoin", &[Value::Map(m)])
    }

    #[test]
    fn url_join_like_sprig() {
        // Sprig's TestUrlJoin.
        let all = [
            ("fragment", s("fragment")),
            ("host", s("host:80")),
            ("path", s("/path")),
            ("query", s("query")),
            ("scheme", s("proto")),
        ];
        assert_eq!(
            join(&all).as_deref(),
            Ok("proto://host:80/path?query#fragment")
        );
        assert_eq!(
            join(&[
                ("host", s("host:80")),
                ("path", s("/path")),
                ("scheme", s("proto")),
                ("userinfo", s("ASDJKJSD"))
            ])
            .as_deref(),
            Ok("proto://ASDJKJSD@host:80/path")
        );
        assert_eq!(
            join(&[("scheme", s("mailto")), ("opaque", s("user@example.com"))]).as_deref(),
            Ok("mailto:user@example.com")
        );
        assert_eq!(
            join(&[
                ("scheme", s("https")),
                ("host", s("h")),
                ("path", s("a b?/c")),
                ("fragment", s("x y#"))
            ])
            .as_deref(),
            Ok("https://h/a%20b%3F/c#x%20y%23")
        );
        assert_eq!(join(&[("path", s("a:b"))]).as_deref(), Ok("./a:b"));
        assert_eq!(
            join(&[("host", Value::Int(1))]),
            Err("unable to parse host key, must be of type string, but int found".into())
        );
        assert_eq!(
            join(&[
                ("scheme", s("http")),
                ("host", s("h")),
                ("userinfo", s("u:p@ss"))
            ])
            .as_deref(),
            Ok("http://u:p%40ss@h")
        );
    }
}
