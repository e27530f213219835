//! The case conversions of `huandu/xstrings` v1.5.0 behind Sprig's `snakecase`, `kebabcase`
//! and `camelcase` (which Sprig v3.3.0 maps to `ToPascalCase`).
//!
//! Words are split as xstrings splits them: runs of connectors (`-`, `_`, white space), of
//! punctuation, of upper-case letters (`HTTPServer` is `HTTP` + `Server`), of letters, of
//! numbers, and of anything else. A literal U+FFFD counts as an invalid rune and is skipped
//! when classifying, as Go's decoder reports it as an error.

use crate::gofmt::unicode::{
    is_letter, is_number, is_punct, is_space, is_upper, to_lower, to_upper,
};

const RUNE_ERROR: char = '\u{fffd}';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    Invalid,
    Number,
    UpperCase,
    Alphabet,
    Connector,
    Punct,
    Other,
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || is_space(c)
}

/// A letter that is not a CJK ideograph.
fn is_alphabet(c: char) -> bool {
    if !is_letter(c) {
        return false;
    }
    !matches!(c, '\u{4E00}'..='\u{9FCC}' | '\u{3400}'..='\u{4D85}' | '\u{20000}'..='\u{2B81D}')
}

/// The next rune that is not U+FFFD and the bytes up to and including it; `prev` with all the
/// bytes when there is none.
fn next_valid_rune(s: &str, prev: char) -> (char, usize) {
    let mut size = 0;
    for c in s.chars() {
        size += c.len_utf8();
        if c != RUNE_ERROR {
            return (c, size);
        }
    }
    (prev, size)
}

/// Splits off the next word: its kind, the word and the rest.
fn next_word(s: &str) -> (Word, &str, &str) {
    if s.is_empty() {
        return (Word::Invalid, "", "");
    }
    let mut remaining = s;
    let (mut r, mut size) = next_valid_rune(remaining, RUNE_ERROR);
    let mut offset = size;
    if r == RUNE_ERROR {
        return (Word::Invalid, &s[..offset], &s[offset..]);
    }

    // Extends the word while `keep` holds for the next rune.
    let extend =
        |keep: &dyn Fn(char) -> bool, r: &mut char, offset: &mut usize, remaining: &mut &str| {
            while !remaining.is_empty() {
                let (next, size) = next_valid_rune(remaining, *r);
                *r = next;
                if !keep(next) {
                    break;
                }
                *offset += size;
                *remaining = &remaining[size..];
            }
        };

    let wt;
    if is_connector(r) {
        wt = Word::Connector;
        remaining = &remaining[size..];
        extend(&is_connector, &mut r, &mut offset, &mut remaining);
    } else if is_punct(r) {
        wt = Word::Punct;
        remaining = &remaining[size..];
        extend(&is_punct, &mut r, &mut offset, &mut remaining);
    } else if is_upper(r) {
        wt = Word::UpperCase;
        remaining = &remaining[size..];
        if !remaining.is_empty() {
            (r, size) = next_valid_rune(remaining, r);
            if is_upper(r) {
                let mut prev_size = size;
                offset += size;
                remaining = &remaining[size..];
                while !remaining.is_empty() {
                    (r, size) = next_valid_rune(remaining, r);
                    if !is_upper(r) {
                        break;
                    }
                    prev_size = size;
                    offset += size;
                    remaining = &remaining[size..];
                }
                // "HTTPStatus" is "HTTP" and "Status": the last capital starts the next word.
                if !remaining.is_empty() && is_alphabet(r) {
                    offset -= prev_size;
                    remaining = &s[offset..];
                }
            } else if is_alphabet(r) {
                offset += size;
                remaining = &remaining[size..];
                extend(
                    &|c| is_alphabet(c) && !is_upper(c),
                    &mut r,
                    &mut offset,
                    &mut remaining,
                );
            }
        }
    } else if is_alphabet(r) {
        wt = Word::Alphabet;
        remaining = &remaining[size..];
        extend(
            &|c| is_alphabet(c) && !is_upper(c),
            &mut r,
            &mut offset,
            &mut remaining,
        );
    } else if is_number(r) {
        wt = Word::Number;
        remaining = &remaining[size..];
        extend(&is_number, &mut r, &mut offset, &mut remaining);
    } else {
        wt = Word::Other;
        remaining = &remaining[size..];
        extend(
            &|c| !(is_connector(c) || is_alphabet(c) || is_number(c) || is_punct(c)),
            &mut r,
            &mut offset,
            &mut remaining,
        );
    }
    (wt, &s[..offset], remaining)
}

/// Writes a word, lower-casing upper-case words and turning connectors into `connector`.
fn push_lower(out: &mut String, wt: Word, word: &str, connector: char) {
    if wt != Word::UpperCase && wt != Word::Connector {
        out.push_str(word);
        return;
    }
    for c in word.chars() {
        if is_connector(c) {
            out.push(connector);
        } else if is_upper(c) {
            out.push(to_lower(c));
        } else {
            out.push(c);
        }
    }
}

fn camel_case_to_lower_case(s: &str, connector: char) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(s.len() + 4);
    let (mut wt, mut word, mut remaining) = next_word(s);
    while !remaining.is_empty() {
        if wt != Word::Connector {
            push_lower(&mut out, wt, word, connector);
        }
        let prev = wt;
        let last = word;
        (wt, word, remaining) = next_word(remaining);
        match prev {
            Word::Number => {
                while wt == Word::Alphabet || wt == Word::Number {
                    push_lower(&mut out, wt, word, connector);
                    (wt, word, remaining) = next_word(remaining);
                }
                if wt != Word::Invalid && wt != Word::Punct && wt != Word::Connector {
                    out.push(connector);
                }
            }
            Word::Connector => push_lower(&mut out, prev, last, connector),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                if remaining.is_empty() {
                    continue;
                }
                let last = word;
                (wt, word, remaining) = next_word(remaining);
                // A number followed by no letters belongs to the previous word:
                // "Bld4Floor" is "bld4_floor".
                if wt != Word::Alphabet {
                    push_lower(&mut out, Word::Number, last, connector);
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                // Letters after a number start a new word with it: "HTTP2xx" is "http_2xx".
                out.push(connector);
                push_lower(&mut out, Word::Number, last, connector);
                while wt == Word::Alphabet || wt == Word::Number {
                    push_lower(&mut out, wt, word, connector);
                    (wt, word, remaining) = next_word(remaining);
                }
                if wt != Word::Invalid && wt != Word::Connector && wt != Word::Punct {
                    out.push(connector);
                }
            }
        }
    }
    push_lower(&mut out, wt, word, connector);
    out
}

/// `ToSnakeCase`: `HTTPServer` → `http_server`.
pub(super) fn to_snake_case(s: &str) -> String {
    camel_case_to_lower_case(s, '_')
}

/// `ToKebabCase`: `HTTPServer` → `http-server`.
pub(super) fn to_kebab_case(s: &str) -> String {
    camel_case_to_lower_case(s, '-')
}

/// `ToPascalCase`: words joined, each capitalised, an all-capitals word lower-cased after its
/// first letter (`GOLANG_IS_GREAT` → `GolangIsGreat`); leading connectors are kept, and a
/// connector before a connector too (`_complex__case_` → `_Complex_Case_`).
pub(super) fn to_pascal_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    let mut first_upper = false;
    let mut r0 = RUNE_ERROR;
    let mut any = false;
    // Leading connectors appear in the output.
    for c in chars.by_ref() {
        any = true;
        if !is_connector(c) {
            first_upper = is_upper(c);
            r0 = to_upper(c);
            break;
        }
        out.push(c);
        r0 = c;
    }
    let rest = chars.as_str();
    if rest.is_empty() {
        // Only one rune left to write (a quirk: an all-connector input repeats its last one).
        if any {
            out.push(r0);
        }
        return out;
    }
    for c in rest.chars() {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = is_upper(r0);
            r0 = to_upper(r0);
        } else {
            if first_upper {
                if is_upper(r0) {
                    r0 = to_lower(r0);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    out
}
