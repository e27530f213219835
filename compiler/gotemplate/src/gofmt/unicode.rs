//! Go's `unicode` predicates and simple case mappings (Unicode 15.0.0, the version of Go 1.21
//! to 1.23), rune by rune as Go applies them: `IsPrint`, `IsUpper`, `IsLower`, `IsTitle`,
//! `IsLetter`, `IsDigit`, `IsNumber`, `IsPunct`, `IsSpace`, `ToUpper`, `ToLower`, `ToTitle`.
//!
//! Rust's own case conversions use full mappings (`ß` upper-cases to `SS`) and a newer Unicode;
//! Go maps one rune to one rune, so these are the ones to use when matching Go's output.

use super::tables::{ALTERNATING, CASE, DIGIT, LETTER, LOWER, NUMBER, PRINT, PUNCT, TITLE, UPPER};

fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    let i = table.partition_point(|&(lo, _)| lo <= c);
    i > 0 && c <= table[i - 1].1
}

/// `unicode.IsPrint` (and `strconv.IsPrint`): letters, marks, numbers, punctuation, symbols
/// and the ASCII space.
pub fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    in_table(PRINT, c)
}

/// `unicode.IsUpper`: category Lu.
pub fn is_upper(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_uppercase();
    }
    in_table(UPPER, c)
}

/// `unicode.IsLower`: category Ll.
pub fn is_lower(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_lowercase();
    }
    in_table(LOWER, c)
}

/// `unicode.IsTitle`: category Lt.
pub fn is_title(c: char) -> bool {
    !c.is_ascii() && in_table(TITLE, c)
}

/// `unicode.IsLetter`: category L.
pub fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    in_table(LETTER, c)
}

/// `unicode.IsDigit`: category Nd.
pub fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    in_table(DIGIT, c)
}

/// `unicode.IsNumber`: category N.
pub fn is_number(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    in_table(NUMBER, c)
}

/// `unicode.IsPunct`: category P.
pub fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation() && !"$+<=>^`|~".contains(c);
    }
    in_table(PUNCT, c)
}

/// `unicode.IsSpace`: the White_Space property (`\t \n \v \f \r`, space, U+0085, U+00A0, …).
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Which mapping of a [`CASE`] entry to apply.
#[derive(Clone, Copy)]
enum Case {
    Upper,
    Lower,
    Title,
}

fn to_case(case: Case, c: char) -> char {
    let cp = c as u32;
    let i = CASE.partition_point(|&(lo, ..)| lo <= cp);
    let Some(&(lo, hi, du, dl, dt)) = i.checked_sub(1).and_then(|i| CASE.get(i)) else {
        return c;
    };
    if cp > hi {
        return c;
    }
    let mapped = if du == ALTERNATING {
        // Even offsets from `lo` are upper case, the following odd ones their lower case.
        let base = lo + ((cp - lo) & !1);
        match case {
            Case::Upper | Case::Title => base,
            Case::Lower => base + 1,
        }
    } else {
        let delta = match case {
            Case::Upper => du,
            Case::Lower => dl,
            Case::Title => dt,
        };
        cp.wrapping_add_signed(delta)
    };
    char::from_u32(mapped).unwrap_or(c)
}

/// `unicode.ToUpper`: the simple (one rune) upper-case mapping.
pub fn to_upper(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    to_case(Case::Upper, c)
}

/// `unicode.ToLower`: the simple lower-case mapping.
pub fn to_lower(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    to_case(Case::Lower, c)
}

/// `unicode.ToTitle`: the simple title-case mapping.
pub fn to_title(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    to_case(Case::Title, c)
}

/// `strings.ToUpper`.
pub fn str_to_upper(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    s.chars().map(to_upper).collect()
}

/// `strings.ToLower`.
pub fn str_to_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars().map(to_lower).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_follow_go() {
        let cases: &[(char, [bool; 8])] = &[
            // print, upper, lower, title, letter, digit, number, punct
            ('a', [true, false, true, false, true, false, false, false]),
            ('Z', [true, true, false, false, true, false, false, false]),
            ('5', [true, false, false, false, false, true, true, false]),
            ('_', [true, false, false, false, false, false, false, true]),
            ('$', [true, false, false, false, false, false, false, false]),
            (' ', [true, false, false, false, false, false, false, false]),
            (
                '\t',
                [false, false, false, false, false, false, false, false],
            ),
            (
                '\u{7f}',
                [false, false, false, false, false, false, false, false],
            ),
            (
                '\u{a0}',
                [false, false, false, false, false, false, false, false],
            ),
            (
                '\u{ad}',
                [false, false, false, false, false, false, false, false],
            ),
            ('é', [true, false, true, false, true, false, false, false]),
            ('²', [true, false, false, false, false, false, true, false]),
            ('¿', [true, false, false, false, false, false, false, true]),
            ('ǅ', [true, false, false, true, true, false, false, false]),
            ('Ⅻ', [true, false, false, false, false, false, true, false]),
            ('世', [true, false, false, false, true, false, false, false]),
            (
                '\u{e000}',
                [false, false, false, false, false, false, false, false],
            ),
            (
                '\u{feff}',
                [false, false, false, false, false, false, false, false],
            ),
            (
                '\u{1F600}',
                [true, false, false, false, false, false, false, false],
            ),
            (
                '\u{0301}',
                [true, false, false, false, false, false, false, false],
            ),
            (
                '\u{10ffff}',
                [false, false, false, false, false, false, false, false],
            ),
        ];
        for &(c, want) in cases {
            let got = [
                is_print(c),
                is_upper(c),
                is_lower(c),
                is_title(c),
                is_letter(c),
                is_digit(c),
                is_number(c),
                is_punct(c),
            ];
            assert_eq!(got, want, "{c:?}");
        }
    }

    #[test]
    fn simple_case_mappings() {
        // (rune, upper, lower, title)
        let cases: &[(char, char, char, char)] = &[
            ('a', 'A', 'a', 'A'),
            ('ß', 'ß', 'ß', 'ß'), // no one-rune upper case: Go keeps it
            ('é', 'É', 'é', 'É'),
            ('ÿ', 'Ÿ', 'ÿ', 'Ÿ'),
            ('Ā', 'Ā', 'ā', 'Ā'),
            ('ā', 'Ā', 'ā', 'Ā'),
            ('ı', 'I', 'ı', 'I'),
            ('İ', 'İ', 'i', 'İ'),
            ('ǆ', 'Ǆ', 'ǆ', 'ǅ'),
            ('ǅ', 'Ǆ', 'ǆ', 'ǅ'),
            ('Ǆ', 'Ǆ', 'ǆ', 'ǅ'),
            ('ſ', 'S', 'ſ', 'S'),
            ('σ', 'Σ', 'σ', 'Σ'),
            ('ς', 'Σ', 'ς', 'Σ'),
            ('ა', 'Ა', 'ა', 'ა'),
            ('ᾳ', 'ᾼ', 'ᾳ', 'ᾼ'),
            ('Ω', 'Ω', 'ω', 'Ω'),
            ('ⓐ', 'Ⓐ', 'ⓐ', 'Ⓐ'),
            ('𐐨', '𐐀', '𐐨', '𐐀'),
            ('5', '5', '5', '5'),
            ('世', '世', '世', '世'),
        ];
        for &(c, u, l, t) in cases {
            assert_eq!((to_upper(c), to_lower(c), to_title(c)), (u, l, t), "{c:?}");
        }
        assert_eq!(str_to_upper("straße"), "STRAßE");
        assert_eq!(str_to_lower("ÀÉÎ"), "àéî");
    }
}
