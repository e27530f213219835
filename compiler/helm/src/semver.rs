//! Masterminds/semver v3.3 as Helm uses it (lenient version parsing, constraint ranges such as
//! `>=1.25.0-0`, `^1.2`, `~1.2.x`, `1.0 - 2.0`, `a || b`): the engine's implementation, which
//! also backs Sprig's `semver` and `semverCompare`, plus Helm's `IsCompatibleRange`.

pub use gotemplate::funcs::sprig_misc::semver::{Constraints, SemverError, Version};

/// `semver.NewVersion`.
pub fn parse_version(version: &str) -> Result<Version, SemverError> {
    Version::parse(version)
}

/// `chartutil.IsCompatibleRange`: false when either side does not parse.
pub fn is_compatible_range(constraint: &str, version: &str) -> bool {
    let Ok(v) = Version::parse(version) else {
        return false;
    };
    let Ok(c) = Constraints::parse(constraint) else {
        return false;
    };
    c.check(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(constraint: &str, version: &str, expect: bool) {
        assert_eq!(
            is_compatible_range(constraint, version),
            expect,
            "{constraint} vs {version}"
        );
    }

    #[test]
    fn versions_parse_leniently() {
        let v = parse_version("v1.31").unwrap();
        assert_eq!(v.to_canonical(), "1.31.0");
        assert_eq!(
            parse_version("1.2.3-rc.1+b5").unwrap().to_canonical(),
            "1.2.3-rc.1+b5"
        );
        assert!(parse_version("1.2.3.4").is_err());
        assert!(parse_version("").is_err());
        assert!(parse_version("1.2.3-01").is_err());
    }

    #[test]
    fn constraints_follow_masterminds() {
        check(">=1.25.0-0", "v1.31.0", true);
        check(">=1.25.0-0", "1.20.0", false);
        check("^1.10.0-0", "v1.31.0", true);
        check(">=6.0.0", "6.14.1", true);
        check("0.1.0", "0.1.0", true);
        check("0.1.0", "0.1.1", false);
        check("1.2.x", "1.2.9", true);
        check("~1.2", "1.3.0", false);
        check("^0.2.3", "0.2.9", true);
        check("^0.2.3", "0.3.0", false);
        check("1.0 - 2.0", "1.5.0", true);
        check(">=1.0, <2.0", "2.0.0", false);
        check("<1 || >=3", "3.1.0", true);
        check("*", "5.0.0", true);
        // A prerelease only satisfies constraints that name a prerelease.
        check(">=1.0.0", "1.5.0-beta", false);
        check("", "1.0.0", false);
        check("!=1.2.3", "1.2.3", false);
        check("not a range", "1.0.0", false);
    }
}
