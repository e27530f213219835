//! Go's `path` and, on Linux (where Helm runs), the identical `path/filepath`: Sprig's
//! `base`, `dir`, `clean`, `ext`, `isAbs` and their `os*` twins.

use crate::funcs::{Func, FuncMap, Ty};
use crate::value::Value;

/// `path.Clean`: the shortest equivalent path by purely lexical processing.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for elem in path.split('/') {
        match elem {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            e => parts.push(e),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// `path.Base`: the last element, trailing slashes removed.
pub fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    match trimmed.rfind('/') {
        Some(i) => trimmed[i + 1..].to_string(),
        None => trimmed.to_string(),
    }
}

/// `path.Dir`: everything but the last element, cleaned.
pub fn dir(path: &str) -> String {
    let cut = path.rfind('/').map_or(0, |i| i + 1);
    clean(&path[..cut])
}

/// `path.Ext`: the suffix from the final dot of the last element.
pub fn ext(path: &str) -> String {
    for (i, c) in path.char_indices().rev() {
        match c {
            '/' => break,
            '.' => return path[i..].to_string(),
            _ => {}
        }
    }
    String::new()
}

pub fn is_abs(path: &str) -> bool {
    path.starts_with('/')
}

pub fn register(map: &mut FuncMap) {
    let string_fn = |f: fn(&str) -> String| {
        Func::pure(&[Ty::String], None, move |a| {
            Ok(Value::from(f(a
                .first()
                .and_then(Value::as_str)
                .unwrap_or(""))))
        })
    };
    let abs_fn = || {
        Func::pure(&[Ty::String], None, |a| {
            Ok(Value::Bool(is_abs(
                a.first().and_then(Value::as_str).unwrap_or(""),
            )))
        })
    };
    for prefix in ["", "os"] {
        let name = |n: &str| {
            if prefix.is_empty() {
                n.to_string()
            } else {
                let mut c = n.chars();
                let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or(' ');
                format!("{prefix}{first}{}", c.as_str())
            }
        };
        map.insert(name("base"), string_fn(base));
        map.insert(name("dir"), string_fn(dir));
        map.insert(name("clean"), string_fn(clean));
        map.insert(name("ext"), string_fn(ext));
        map.insert(name("isAbs"), abs_fn());
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{s, show};

    fn check(name: &str, input: &str, want: &str) {
        for n in [
            name.to_string(),
            format!("os{}{}", &name[..1].to_uppercase(), &name[1..]),
        ] {
            assert_eq!(show(&n, &[s(input)]).as_deref(), Ok(want), "{n} {input:?}");
        }
    }

    #[test]
    fn clean_like_go() {
        // Cases from Go's path.TestClean.
        for (input, want) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            ("a/b/c", "a/b/c"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("/abc/", "/abc"),
            ("//abc", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/.", "abc"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("abc/./../def", "def"),
            ("abc//./../def", "def"),
            ("abc/../../././../def", "../../def"),
        ] {
            check("clean", input, want);
        }
    }

    #[test]
    fn base_dir_ext_abs() {
        for (input, want) in [
            ("", "."),
            (".", "."),
            ("/.", "."),
            ("/", "/"),
            ("////", "/"),
            ("x/", "x"),
            ("abc", "abc"),
            ("abc/def", "def"),
            ("a/b/.x", ".x"),
            ("a/b/c.", "c."),
            ("a/b/c.x", "c.x"),
        ] {
            check("base", input, want);
        }
        for (input, want) in [
            ("", "."),
            (".", "."),
            ("/.", "/"),
            ("/", "/"),
            ("////", "/"),
            ("/foo", "/"),
            ("x/", "x"),
            ("abc", "."),
            ("abc/def", "abc"),
            ("abc////def", "abc"),
            ("a/b/.x", "a/b"),
            ("a/b/c.", "a/b"),
            ("a/b/c.x", "a/b"),
        ] {
            check("dir", input, want);
        }
        for (input, want) in [
            ("path.go", ".go"),
            ("path.pb.go", ".go"),
            ("a.dir/b", ""),
            ("a.dir/b.go", ".go"),
            ("a.dir/", ""),
        ] {
            check("ext", input, want);
        }
        for (input, want) in [
            ("", "false"),
            ("/", "true"),
            ("/usr/bin/gcc", "true"),
            ("..", "false"),
            ("lala", "false"),
        ] {
            check("isAbs", input, want);
        }
    }
}
