//! The parts of `Masterminds/goutils` v1.1.1 that Sprig exposes: abbreviation, wrapping,
//! initials, white-space deletion and case swapping.
//!
//! Several of them walk the string byte by byte and treat each byte as the Latin-1 character
//! of the same value (Go's `rune(str[i])`); that is kept, so non-ASCII text comes out as Go
//! prints it.

use crate::gofmt::unicode;

/// `AbbreviateFull(str, offset, maxWidth)`: `None` where goutils returns an error (Sprig then
/// prints the empty string). Lengths and offsets count bytes.
pub(super) fn abbreviate_full(s: &str, offset: i64, max_width: i64) -> Option<String> {
    if s.is_empty() {
        return Some(String::new());
    }
    if max_width < 4 {
        return None;
    }
    let len = s.len() as i64;
    if len <= max_width {
        return Some(s.to_string());
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    const MARKER: &str = "...";
    if offset <= 4 {
        return Some(super::byte_slice(s, 0, (max_width - 3) as usize) + MARKER);
    }
    if max_width < 7 {
        return None;
    }
    if offset + max_width - 3 < len {
        let rest = super::byte_slice(s, offset as usize, s.len());
        let inner = abbreviate_full(&rest, 0, max_width - 3).unwrap_or_default();
        return Some(format!("{MARKER}{inner}"));
    }
    Some(format!(
        "{MARKER}{}",
        super::byte_slice(s, (len - (max_width - 3)) as usize, s.len())
    ))
}

/// `WrapCustom(str, wrapLength, newLineStr, wrapLongWords)`: breaks lines at spaces so that
/// they are at most `wrap_length` bytes, long words staying whole unless `wrap_long_words`.
pub(super) fn wrap_custom(
    s: &str,
    wrap_length: i64,
    new_line: &str,
    wrap_long_words: bool,
) -> String {
    if s.is_empty() {
        return String::new();
    }
    let new_line = if new_line.is_empty() { "\n" } else { new_line };
    let wrap_length = wrap_length.max(1) as usize;
    let b = s.as_bytes();
    let input_len = b.len();
    let mut offset = 0usize;
    let mut out: Vec<u8> = Vec::with_capacity(input_len + input_len / wrap_length + 1);
    while input_len - offset > wrap_length {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = wrap_length + offset + 1;
        let space = b[offset..end].iter().rposition(|&c| c == b' ');
        if let Some(at) = space {
            let at = offset + at;
            out.extend_from_slice(&b[offset..at]);
            out.extend_from_slice(new_line.as_bytes());
            offset = at + 1;
        } else if wrap_long_words {
            let end = wrap_length + offset;
            out.extend_from_slice(&b[offset..end]);
            out.extend_from_slice(new_line.as_bytes());
            offset += wrap_length;
        } else {
            let end = wrap_length + offset;
            match b[end..].iter().position(|&c| c == b' ') {
                None => {
                    out.extend_from_slice(&b[offset..]);
                    offset = input_len;
                }
                Some(index) => {
                    let at = index + end;
                    out.extend_from_slice(&b[offset..at]);
                    out.extend_from_slice(new_line.as_bytes());
                    offset = at + 1;
                }
            }
        }
    }
    out.extend_from_slice(&b[offset..]);
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// `unicode.IsSpace` of a byte taken as a Latin-1 character.
fn is_space_byte(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0)
}

/// `DeleteWhiteSpace`: the string without white space, judged byte by byte; when something
/// was deleted, the kept bytes are re-encoded as Latin-1 characters (so `é` becomes `Ã©`).
pub(super) fn delete_white_space(s: &str) -> String {
    if !s.bytes().any(is_space_byte) {
        return s.to_string();
    }
    s.bytes()
        .filter(|&b| !is_space_byte(b))
        .map(char::from)
        .collect()
}

/// `Initials`: the first byte of each white-space separated word, as a Latin-1 character.
pub(super) fn initials(s: &str) -> String {
    let mut out = String::new();
    let mut last_was_gap = true;
    for b in s.bytes() {
        if is_space_byte(b) {
            last_was_gap = true;
        } else if last_was_gap {
            out.push(char::from(b));
            last_was_gap = false;
        }
    }
    out
}

/// `Uncapitalize`: the first letter of each white-space separated word to lower case.
pub(super) fn uncapitalize(s: &str) -> String {
    let mut next = true;
    s.chars()
        .map(|c| {
            if unicode::is_space(c) {
                next = true;
                c
            } else if next {
                next = false;
                unicode::to_lower(c)
            } else {
                c
            }
        })
        .collect()
}

/// `SwapCase`: upper and title case to lower; lower case to title case at the start of a word
/// and to upper case elsewhere.
pub(super) fn swap_case(s: &str) -> String {
    let mut whitespace = true;
    s.chars()
        .map(|c| {
            if unicode::is_upper(c) || unicode::is_title(c) {
                whitespace = false;
                unicode::to_lower(c)
            } else if unicode::is_lower(c) {
                if whitespace {
                    whitespace = false;
                    unicode::to_title(c)
                } else {
                    unicode::to_upper(c)
                }
            } else {
                whitespace = unicode::is_space(c);
                c
            }
        })
        .collect()
}
