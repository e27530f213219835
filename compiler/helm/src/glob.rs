//! `github.com/gobwas/glob` patterns with `/` as separator, as `.Files.Glob` compiles them:
//! `*` (not across `/`), `**` (across), `?`, `[abc]`, `[!a-z]`, `{a,b}` and `\` escapes.

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Char(char),
    Any,
    Super,
    Single,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Alternatives(Vec<Vec<Token>>),
}

/// A compiled glob.
#[derive(Debug, Clone, PartialEq)]
pub struct Glob {
    tokens: Vec<Token>,
}

/// A pattern that does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError(pub String);

impl Glob {
    pub fn compile(pattern: &str) -> Result<Glob, GlobError> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pos = 0;
        let tokens = parse_seq(&chars, &mut pos, false, 0)?;
        if pos != chars.len() {
            return Err(GlobError("unexpected end of alternatives".into()));
        }
        Ok(Glob { tokens })
    }

    pub fn matches(&self, name: &str) -> bool {
        let n: Vec<char> = name.chars().collect();
        let mut budget = 1_000_000u32;
        match_tokens(&self.tokens, &n, &mut budget)
    }
}

fn parse_seq(
    p: &[char],
    pos: &mut usize,
    in_alt: bool,
    depth: usize,
) -> Result<Vec<Token>, GlobError> {
    if depth > 32 {
        return Err(GlobError("alternatives nest too deeply".into()));
    }
    let mut out = Vec::new();
    while *pos < p.len() {
        let c = p[*pos];
        match c {
            ',' | '}' if in_alt => return Ok(out),
            '*' => {
                if p.get(*pos + 1) == Some(&'*') {
                    *pos += 2;
                    out.push(Token::Super);
                } else {
                    *pos += 1;
                    out.push(Token::Any);
                }
            }
            '?' => {
                *pos += 1;
                out.push(Token::Single);
            }
            '\\' => {
                let Some(&next) = p.get(*pos + 1) else {
                    return Err(GlobError("unexpected end of input after escape".into()));
                };
                *pos += 2;
                out.push(Token::Char(next));
            }
            '[' => {
                *pos += 1;
                let mut negated = false;
                if p.get(*pos) == Some(&'!') {
                    negated = true;
                    *pos += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let Some(&lo) = p.get(*pos) else {
                        return Err(GlobError("unexpected end of input in class".into()));
                    };
                    if lo == ']' {
                        *pos += 1;
                        break;
                    }
                    *pos += 1;
                    if p.get(*pos) == Some(&'-')
                        && let Some(&hi) = p.get(*pos + 1)
                        && hi != ']'
                    {
                        *pos += 2;
                        ranges.push((lo, hi));
                    } else {
                        ranges.push((lo, lo));
                    }
                }
                out.push(Token::Class { negated, ranges });
            }
            '{' => {
                *pos += 1;
                let mut alts = Vec::new();
                loop {
                    alts.push(parse_seq(p, pos, true, depth + 1)?);
                    match p.get(*pos) {
                        Some(',') => *pos += 1,
                        Some('}') => {
                            *pos += 1;
                            break;
                        }
                        _ => return Err(GlobError("unexpected end of alternatives".into())),
                    }
                }
                out.push(Token::Alternatives(alts));
            }
            c => {
                *pos += 1;
                out.push(Token::Char(c));
            }
        }
    }
    Ok(out)
}

fn match_tokens(t: &[Token], n: &[char], budget: &mut u32) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let Some((first, rest)) = t.split_first() else {
        return n.is_empty();
    };
    match first {
        Token::Char(c) => n.first() == Some(c) && match_tokens(rest, &n[1..], budget),
        Token::Single => {
            n.first().is_some_and(|c| *c != '/') && match_tokens(rest, &n[1..], budget)
        }
        Token::Class { negated, ranges } => {
            let Some(&c) = n.first() else {
                return false;
            };
            let inside = ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
            inside != *negated && match_tokens(rest, &n[1..], budget)
        }
        Token::Any => {
            for i in 0..=n.len() {
                if match_tokens(rest, &n[i..], budget) {
                    return true;
                }
                if i < n.len() && n[i] == '/' {
                    return false;
                }
            }
            false
        }
        Token::Super => (0..=n.len()).any(|i| match_tokens(rest, &n[i..], budget)),
        Token::Alternatives(alts) => alts.iter().any(|alt| {
            let mut joined = alt.clone();
            joined.extend_from_slice(rest);
            match_tokens(&joined, n, budget)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, name: &str, expect: bool) {
        let g = Glob::compile(pattern).unwrap();
        assert_eq!(g.matches(name), expect, "{pattern} on {name}");
    }

    #[test]
    fn gobwas_semantics() {
        check("*.yaml", "a.yaml", true);
        check("*.yaml", "dir/a.yaml", false);
        check("**.yaml", "dir/a.yaml", true);
        check("files/**", "files/a/b.txt", true);
        check("files/*", "files/a/b.txt", false);
        check("?.txt", "a.txt", true);
        check("[ab].txt", "b.txt", true);
        check("[!ab].txt", "b.txt", false);
        check("[a-c].txt", "c.txt", true);
        check("{foo,bar}.conf", "bar.conf", true);
        check("{foo,bar}.conf", "baz.conf", false);
        check("a\\*", "a*", true);
        assert!(Glob::compile("{a,b").is_err());
        assert!(Glob::compile("[ab").is_err());
    }
}
