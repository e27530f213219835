//! Name globs for roles (`payments-*`, `api-?`, `[a-c]*`): parsed once, matched without
//! allocation, and every malformed pattern reported with the byte where it goes wrong.
//!
//! Syntax: `*` any run of characters, `?` one character, `[abc]`, `[a-z]`, `[!a-z]` one
//! character of (or not of) a class, `\x` the character `x` itself. Anything else matches
//! itself. Globs match whole names.

use std::fmt;

/// A parsed glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    text: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Why a glob does not parse, at a byte offset of the pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GlobError {
    pub message: String,
    pub at: usize,
}

impl Glob {
    /// Parses a pattern.
    pub fn new(text: &str) -> Result<Glob, GlobError> {
        let err = |message: &str, at: usize| GlobError {
            message: message.to_owned(),
            at,
        };
        if text.is_empty() {
            return Err(err("the pattern is empty", 0));
        }
        let mut tokens = Vec::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '*' => {
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                '?' => tokens.push(Token::Any),
                '\\' => match chars.next() {
                    Some((_, e)) => tokens.push(Token::Char(e)),
                    None => return Err(err("the pattern ends with a lone `\\`", at)),
                },
                '[' => {
                    let negated = chars.next_if(|(_, c)| *c == '!' || *c == '^').is_some();
                    let mut ranges = Vec::new();
                    let mut closed = false;
                    while let Some((i, c)) = chars.next() {
                        if c == ']' && !ranges.is_empty() {
                            closed = true;
                            break;
                        }
                        let lo = if c == '\\' {
                            match chars.next() {
                                Some((_, e)) => e,
                                None => return Err(err("the pattern ends with a lone `\\`", i)),
                            }
                        } else {
                            c
                        };
                        let mut hi = lo;
                        if chars.next_if(|(_, c)| *c == '-').is_some() {
                            match chars.peek() {
                                Some((_, ']')) | None => {
                                    // A trailing `-` is itself.
                                    ranges.push((lo, lo));
                                    ranges.push(('-', '-'));
                                    continue;
                                }
                                Some(&(j, h)) => {
                                    chars.next();
                                    if h < lo {
                                        return Err(err(
                                            &format!("the range `{lo}-{h}` is backwards"),
                                            j,
                                        ));
                                    }
                                    hi = h;
                                }
                            }
                        }
                        ranges.push((lo, hi));
                    }
                    if !closed {
                        return Err(err("`[` is never closed with `]`", at));
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                c => tokens.push(Token::Char(c)),
            }
        }
        Ok(Glob {
            text: text.to_owned(),
            tokens,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the whole of `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        // Classic backtracking on the last star: linear in practice, at worst
        // `pattern × name`, never exponential.
        let toks = &self.tokens;
        let s: Vec<char> = name.chars().collect();
        let (mut t, mut i) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while i < s.len() {
            match toks.get(t) {
                Some(Token::Star) => {
                    star = Some((t, i));
                    t += 1;
                    continue;
                }
                Some(tok) if one(tok, s[i]) => {
                    t += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            }
            match star {
                Some((st, si)) => {
                    t = st + 1;
                    i = si + 1;
                    star = Some((st, si + 1));
                }
                None => return false,
            }
        }
        toks[t..].iter().all(|tok| *tok == Token::Star)
    }

    /// Whether the glob matches every name (`*`).
    pub fn is_any(&self) -> bool {
        self.tokens == [Token::Star]
    }

    /// Whether the glob is a plain name, without wildcards.
    pub fn literal(&self) -> Option<String> {
        self.tokens
            .iter()
            .map(|t| match t {
                Token::Char(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// A character the pattern requires that no Kubernetes-style name (lower-case letters,
    /// digits, `-`, `.`) has, so that the glob can never match one.
    pub fn impossible_char(&self) -> Option<char> {
        self.tokens.iter().find_map(|t| match t {
            Token::Char(c) if !name_char(*c) => Some(*c),
            _ => None,
        })
    }
}

fn name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
}

fn one(tok: &Token, c: char) -> bool {
    match tok {
        Token::Char(x) => *x == c,
        Token::Any => true,
        Token::Star => false,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
        }
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, name: &str, expect: bool) {
        let g = Glob::new(pattern).expect("a valid pattern");
        assert_eq!(g.matches(name), expect, "{pattern} ~ {name}");
    }

    #[test]
    fn globs_match_whole_names() {
        check("payments-*", "payments-api", true);
        check("payments-*", "payments-", true);
        check("payments-*", "payments", false);
        check("payments-*", "xpayments-api", false);
        check("*", "", true);
        check("*", "anything", true);
        check("*-api", "search-api", true);
        check("*-api", "search-api2", false);
        check("a*b*c", "aXXbYYc", true);
        check("a*b*c", "aXXbYY", false);
        check("a*b*c", "abcbc", true);
        check("api-?", "api-1", true);
        check("api-?", "api-12", false);
        check("api-?", "api-", false);
        check("[a-c]*", "beta", true);
        check("[a-c]*", "delta", false);
        check("[!a-c]*", "delta", true);
        check("[^a-c]*", "alpha", false);
        check("[]]x", "]x", true);
        check("[a-]", "-", true);
        check("[a-]", "a", true);
        check(r"\*", "*", true);
        check(r"\*", "x", false);
        check("é*", "été", true);
        check("exact", "exact", true);
        check("exact", "exactly", false);
        check("**x", "ax", true);
    }

    #[test]
    fn stars_do_not_backtrack_exponentially() {
        let pattern = "*a".repeat(20) + "b";
        let name = "a".repeat(200);
        check(&pattern, &name, false);
    }

    #[test]
    fn malformed_globs_say_where() {
        let bad = |pattern: &str, message: &str, at: usize| {
            assert_eq!(
                Glob::new(pattern),
                Err(GlobError {
                    message: message.into(),
                    at
                }),
                "{pattern}"
            );
        };
        bad("", "the pattern is empty", 0);
        bad("payments-[a", "`[` is never closed with `]`", 9);
        bad("x[]", "`[` is never closed with `]`", 1);
        bad("x\\", "the pattern ends with a lone `\\`", 1);
        bad("[z-a]", "the range `z-a` is backwards", 3);
    }

    #[test]
    fn helpers() {
        assert!(Glob::new("*").unwrap().is_any());
        assert!(!Glob::new("a*").unwrap().is_any());
        assert_eq!(Glob::new("abc").unwrap().literal(), Some("abc".into()));
        assert_eq!(Glob::new("a*").unwrap().literal(), None);
        assert_eq!(
            Glob::new("Payments-*").unwrap().impossible_char(),
            Some('P')
        );
        assert_eq!(Glob::new("payments-*").unwrap().impossible_char(), None);
    }
}
