//! Small pieces of Go's standard library that Helm's behaviour depends on: `path` and
//! `path/filepath` helpers, `filepath.Match`, `strings.TrimSpace` and float formatting.

/// `path.Base` for slash-separated paths.
pub fn path_base(p: &str) -> &str {
    if p.is_empty() {
        return ".";
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

/// `path.Ext`: the suffix from the last dot of the last element.
pub fn path_ext(p: &str) -> &str {
    for (i, b) in p.bytes().enumerate().rev() {
        match b {
            b'/' => return "",
            b'.' => return &p[i..],
            _ => {}
        }
    }
    ""
}

/// `path.Clean`.
pub fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `path.Join`.
pub fn path_join(parts: &[&str]) -> String {
    let nonempty: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if nonempty.is_empty() {
        return String::new();
    }
    path_clean(&nonempty.join("/"))
}

/// `strings.TrimSpace` (Unicode white space, as Rust's `trim`).
pub fn trim_space(s: &str) -> &str {
    s.trim()
}

/// `filepath.Match` on slash-separated names: `*` and `?` do not cross `/`, `[...]` classes
/// with ranges and `^`/`!` negation, `\` escapes. `Err` is `filepath.ErrBadPattern`.
pub fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Validate the whole pattern first, as Go reports a bad pattern even when matching
    // stops early (Go 1.16+ scans the rest of the pattern).
    validate_pattern(&p)?;
    Ok(match_here(&p, &n))
}

/// `filepath.ErrBadPattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub struct BadPattern;

fn validate_pattern(p: &[char]) -> Result<(), BadPattern> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(BadPattern);
                }
                i += 2;
            }
            '[' => {
                let (_, next) = parse_class(p, i, None)?;
                i = next;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Parses the class starting at `p[start] == '['`; with `c`, also says whether `c` matches.
/// Returns (matched, index after `]`).
fn parse_class(p: &[char], start: usize, c: Option<char>) -> Result<(bool, usize), BadPattern> {
    let mut i = start + 1;
    let mut negated = false;
    if i < p.len() && p[i] == '^' {
        negated = true;
        i += 1;
    }
    let mut matched = false;
    let mut nrange = 0;
    loop {
        if i < p.len() && p[i] == ']' && nrange > 0 {
            i += 1;
            break;
        }
        let (lo, next) = class_char(p, i)?;
        i = next;
        let mut hi = lo;
        if i < p.len() && p[i] == '-' {
            let (h, next) = class_char(p, i + 1)?;
            hi = h;
            i = next;
        }
        if let Some(c) = c
            && lo <= c
            && c <= hi
        {
            matched = true;
        }
        nrange += 1;
    }
    Ok((matched != negated, i))
}

fn class_char(p: &[char], i: usize) -> Result<(char, usize), BadPattern> {
    match p.get(i) {
        None | Some('-') | Some(']') => Err(BadPattern),
        Some('\\') => match p.get(i + 1) {
            Some(c) => Ok((*c, i + 2)),
            None => Err(BadPattern),
        },
        Some(c) => Ok((*c, i + 1)),
    }
}

fn match_here(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0usize, 0usize);
    // Backtracking point for the last `*`: (pattern index after the star, name index).
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    pi += 1;
                    star = Some((pi, ni));
                    continue;
                }
                '?' => {
                    if ni < n.len() && n[ni] != '/' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                '[' => {
                    if ni < n.len()
                        && n[ni] != '/'
                        && let Ok((true, next)) = parse_class(p, pi, Some(n[ni]))
                    {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                }
                '\\' => {
                    if ni < n.len() && p.get(pi + 1) == Some(&n[ni]) {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c => {
                    if ni < n.len() && n[ni] == c {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
            }
        } else if ni == n.len() {
            return true;
        }
        // Mismatch: let the last star absorb one more character (never a slash).
        match star {
            Some((sp, sn)) if sn < n.len() && n[sn] != '/' => {
                star = Some((sp, sn + 1));
                pi = sp;
                ni = sn + 1;
            }
            _ => return false,
        }
    }
}

/// `strconv.FormatFloat(float64(f), 'g', -1, 32)`: the shortest digits that round-trip a
/// float32, in `%e` form when the exponent is below -4 or at least 6... as Go's `%g` with
/// shortest precision does (exponent at least two digits).
pub fn format_float32_g(f: f32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` prints the shortest round-tripping digits: "1.25e-7".
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    // Plain decimal.
    let point = exp + 1; // digits before the decimal point
    let mut out = String::from(sign);
    if point <= 0 {
        out.push_str("0.");
        for _ in 0..(-point) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = point as usize;
        if digits.len() <= point {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_behave_as_go() {
        assert_eq!(path_base("a/b/c.yaml"), "c.yaml");
        assert_eq!(path_base("c"), "c");
        assert_eq!(path_base(""), ".");
        assert_eq!(path_ext("templates/x.tpl"), ".tpl");
        assert_eq!(path_ext("a.b/c"), "");
        assert_eq!(path_clean("a/../../b/./c/"), "../b/c");
        assert_eq!(path_join(&["chart", "templates"]), "chart/templates");
        assert_eq!(
            path_join(&["a/charts/b", "templates/x.yaml"]),
            "a/charts/b/templates/x.yaml"
        );
    }

    fn check(pattern: &str, name: &str, expect: Result<bool, BadPattern>) {
        assert_eq!(path_match(pattern, name), expect, "{pattern} on {name}");
    }

    #[test]
    fn filepath_match_cases_from_go() {
        check("abc", "abc", Ok(true));
        check("*", "abc", Ok(true));
        check("*c", "abc", Ok(true));
        check("a*", "a", Ok(true));
        check("a*", "ab/c", Ok(false));
        check("a*/b", "abc/b", Ok(true));
        check("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true));
        check("a*b?c*x", "abxbbxdbxebxczzx", Ok(true));
        check("a*b?c*x", "abxbbxdbxebxczzy", Ok(false));
        check("ab[c]", "abc", Ok(true));
        check("ab[b-d]", "abc", Ok(true));
        check("ab[^c]", "abc", Ok(false));
        check("a\\*b", "a*b", Ok(true));
        check("a?b", "a/b", Ok(false));
        check("[", "a", Err(BadPattern));
        check("a[", "x", Err(BadPattern));
        check("*x", "xxx", Ok(true));
        check("templates/*.yaml", "templates/svc.yaml", Ok(true));
    }

    #[test]
    fn float32_shortest() {
        assert_eq!(format_float32_g(1.1), "1.1");
        assert_eq!(format_float32_g(1234567.0), "1.234567e+06");
        assert_eq!(format_float32_g(123456.0), "123456");
        assert_eq!(format_float32_g(0.0001), "0.0001");
        assert_eq!(format_float32_g(0.00001), "1e-05");
    }
}
