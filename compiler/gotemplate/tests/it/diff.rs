//! A small line diff for reporting a golden mismatch, with whitespace made visible.

use std::fmt::Write;

/// Lines of context shown around each change.
const CONTEXT: usize = 2;
/// Above this many lines on either side the LCS table would be large: show the first change only.
const MAX_LINES: usize = 2000;

#[derive(Debug, PartialEq, Eq)]
enum Op<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// A unified-style diff of `expected` against `actual` (`-` expected, `+` actual), each line
/// printed as a Rust string literal so that tabs, trailing spaces and a missing final newline
/// show. Empty when equal.
pub fn diff(expected: &str, actual: &str) -> String {
    if expected == actual {
        return String::new();
    }
    let a: Vec<&str> = expected.split_inclusive('\n').collect();
    let b: Vec<&str> = actual.split_inclusive('\n').collect();
    let mut out = String::new();
    let offset = first_difference(expected.as_bytes(), actual.as_bytes());
    let _ = writeln!(
        out,
        "first difference at byte {offset} (expected {} bytes, got {})",
        expected.len(),
        actual.len()
    );
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        let line = expected[..offset.min(expected.len())]
            .bytes()
            .filter(|&c| c == b'\n')
            .count();
        let _ = writeln!(out, "- {:?}", a.get(line).copied().unwrap_or(""));
        let _ = writeln!(out, "+ {:?}", b.get(line).copied().unwrap_or(""));
        return out;
    }
    let ops = lcs_ops(&a, &b);
    let changed: Vec<bool> = ops.iter().map(|op| !matches!(op, Op::Same(_))).collect();
    let mut last_printed: Option<usize> = None;
    for (i, op) in ops.iter().enumerate() {
        let lo = i.saturating_sub(CONTEXT);
        let hi = (i + CONTEXT + 1).min(ops.len());
        if !changed[lo..hi].iter().any(|&c| c) {
            continue;
        }
        if last_printed.is_some_and(|p| p + 1 != i) {
            out.push_str("  ...\n");
        }
        last_printed = Some(i);
        let _ = match op {
            Op::Same(l) => writeln!(out, "  {l:?}"),
            Op::Removed(l) => writeln!(out, "- {l:?}"),
            Op::Added(l) => writeln!(out, "+ {l:?}"),
        };
    }
    out
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

fn lcs_ops<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Op<'a>> {
    let (n, m) = (a.len(), b.len());
    // table[i][j]: length of the LCS of a[i..] and b[j..].
    let mut table = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[i][j] = if a[i] == b[j] {
                table[i + 1][j + 1] + 1
            } else {
                table[i + 1][j].max(table[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push(Op::Same(a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || table[i][j + 1] >= table[i + 1][j]) {
            ops.push(Op::Added(b[j]));
            j += 1;
        } else {
            ops.push(Op::Removed(a[i]));
            i += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(diff("a\nb\n", "a\nb\n"), "");
    }

    #[test]
    fn shows_changed_lines_with_visible_whitespace() {
        let d = diff("a\nb\nc\n", "a\nb \nc\n");
        assert!(d.contains("- \"b\\n\""), "{d}");
        assert!(d.contains("+ \"b \\n\""), "{d}");
        assert!(d.contains("  \"a\\n\""), "{d}");
    }

    #[test]
    fn missing_final_newline_shows() {
        let d = diff("x\n", "x");
        assert!(d.contains("- \"x\\n\"") && d.contains("+ \"x\""), "{d}");
        assert!(d.starts_with("first difference at byte 1"), "{d}");
    }

    #[test]
    fn far_apart_changes_are_separated() {
        let a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let b = "X\n2\n3\n4\n5\n6\n7\n8\nY\n";
        let d = diff(a, b);
        assert!(d.contains("  ...\n"), "{d}");
    }
}
