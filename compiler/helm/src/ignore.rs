//! `.helmignore` rules (Helm's `pkg/ignore`): gitignore-like patterns matched with
//! `filepath.Match`, first match wins, `!` negation, trailing `/` for folders.

use crate::error::HelmError;
use crate::gostr::{path_base, path_match};

#[derive(Debug, Clone)]
struct Pattern {
    rule: String,
    kind: MatchKind,
    negate: bool,
    must_dir: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchKind {
    /// A pattern starting with `/`: matched against the whole path.
    Rooted,
    /// A pattern with a `/` inside: matched against the whole path.
    Structural,
    /// No slash: matched against the base name only.
    Base,
}

/// A parsed `.helmignore`.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

impl Rules {
    pub fn empty() -> Rules {
        Rules::default()
    }

    /// Parses the text of a `.helmignore` file.
    pub fn parse(text: &str) -> Result<Rules, HelmError> {
        let mut rules = Rules::empty();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // bufio.Scanner's lines: split at \n, drop a trailing \r.
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            rules.parse_rule(line)?;
        }
        Ok(rules)
    }

    /// `AddDefaults`: dot files in `templates/` are always ignored.
    pub fn add_defaults(&mut self) {
        // The default rule is valid by construction.
        let _ = self.parse_rule("templates/.?*");
    }

    fn parse_rule(&mut self, rule: &str) -> Result<(), HelmError> {
        let rule = rule.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err(HelmError::Load(
                "double-star (**) syntax is not supported".into(),
            ));
        }
        if path_match(rule, "abc").is_err() {
            return Err(HelmError::Load("syntax error in pattern".into()));
        }
        let mut rule = rule;
        let mut negate = false;
        if let Some(r) = rule.strip_prefix('!') {
            negate = true;
            rule = r;
        }
        let mut must_dir = false;
        if let Some(r) = rule.strip_suffix('/') {
            must_dir = true;
            rule = r;
        }
        let (kind, rule) = if let Some(r) = rule.strip_prefix('/') {
            (MatchKind::Rooted, r)
        } else if rule.contains('/') {
            (MatchKind::Structural, rule)
        } else {
            (MatchKind::Base, rule)
        };
        self.patterns.push(Pattern {
            rule: rule.to_string(),
            kind,
            negate,
            must_dir,
        });
        Ok(())
    }

    /// Whether the chart-relative slash path `path` is ignored.
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for p in &self.patterns {
            let matched = || {
                let target = match p.kind {
                    MatchKind::Base => path_base(path),
                    _ => path,
                };
                path_match(&p.rule, target).unwrap_or(false)
            };
            if p.negate {
                if p.must_dir && !is_dir {
                    return true;
                }
                if !matched() {
                    return true;
                }
                continue;
            }
            if p.must_dir && !is_dir {
                continue;
            }
            if matched() {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rules: &str, path: &str, is_dir: bool, expect: bool) {
        let mut r = Rules::parse(rules).unwrap();
        r.add_defaults();
        assert_eq!(r.ignore(path, is_dir), expect, "{rules:?} on {path}");
    }

    #[test]
    fn helm_ignore_cases() {
        check("", "templates/.hidden.yaml", false, true);
        check("", "templates/deploy.yaml", false, false);
        check("", "charts/sub/templates/.x", false, false);
        check("*.md\n", "README.md", false, true);
        check("*.md\n", "docs/README.md", false, true);
        check("# comment\n.git/\n", ".git", true, true);
        check(".git/\n", ".git", false, false);
        check("/ci\n", "ci", true, true);
        check("/ci\n", "sub/ci", true, false);
        check("docs/*.txt\n", "docs/a.txt", false, true);
        check("docs/*.txt\n", "x/docs/a.txt", false, false);
        check("*.tgz\n", "charts/sub-1.0.0.tgz", false, true);
        check(".*\n", ".helmignore", false, true);
        check(
            "*.swp\n*.bak\n*.tmp\n*.orig\n*~\n",
            "values.yaml~",
            false,
            true,
        );
    }

    #[test]
    fn double_star_is_rejected() {
        assert!(Rules::parse("a/**/b").is_err());
    }
}
