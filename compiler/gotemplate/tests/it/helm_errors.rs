//! How Helm 3.17 turns the engine's errors into what `helm install` prints, and the essential
//! cause of an error that a conformance case checks.

/// What `helm install` prints before a rendering error.
pub const HELM_PREFIX: &str = "Error: INSTALLATION FAILED: ";

/// `required` and `fail` wrap their message in these, so Helm can pull it out of Go's error
/// chain (`warnWrap` in Helm's engine).
const WARN_START: &str = "HELM_ERR_START";
const WARN_END: &str = "HELM_ERR_END";

/// Helm's `cleanupParseError`: `template: NAME:LINE: MSG` becomes
/// `parse error at (NAME:LINE): MSG` (the last `: `-separated part only).
pub fn cleanup_parse_error(filename: &str, message: &str) -> String {
    let tokens: Vec<&str> = message.split(": ").collect();
    if tokens.len() == 1 {
        return format!("parse error in ({filename}): {message}");
    }
    let location = tokens[1];
    let last = tokens[tokens.len() - 1];
    format!("parse error at ({location}): {last}")
}

/// Helm's `cleanupExecError`: a message of `required`/`fail` becomes
/// `execution error at (NAME:LINE:COL): MSG`; any other error is kept as it is.
pub fn cleanup_exec_error(filename: &str, message: &str) -> String {
    let tokens: Vec<&str> = message.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return format!("execution error in ({filename}): {message}");
    }
    match warn_message(tokens[2]) {
        Some(inner) => format!("execution error at ({}): {inner}", tokens[1]),
        None => message.to_string(),
    }
}

/// `HELM_ERR_START(.*)HELM_ERR_END`, leftmost match, greedy within one line (Go's `.`
/// does not match a newline).
fn warn_message(text: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|t| t.find(WARN_START)) {
        let start = from + found + WARN_START.len();
        let rest = text.get(start..)?;
        let line = rest.split('\n').next().unwrap_or("");
        if let Some(end) = line.rfind(WARN_END) {
            return line.get(..end);
        }
        from = start;
    }
    None
}

/// The part of helm's error that any faithful engine must report: the innermost message, after
/// Helm's location prefix or the last `at <...>: ` of Go's execution trace. A case's
/// `cause.txt` overrides it (one accepted alternative per line) where the innermost message
/// names something an engine legitimately words differently, such as Go's depth limit.
pub fn essential_cause(helm_error: &str) -> String {
    let message = helm_error.trim_end_matches('\n');
    let message = message.strip_prefix(HELM_PREFIX).unwrap_or(message);
    let message = message.lines().next().unwrap_or("");
    for prefix in [
        "parse error at (",
        "execution error at (",
        "parse error in (",
    ] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(i) = rest.find("): ")
        {
            return rest[i + 3..].to_string();
        }
    }
    match message.rfind(">: ") {
        Some(i) => message[i + 3..].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_keep_location_and_last_part() {
        assert_eq!(
            cleanup_parse_error(
                "c/templates/NOTES.txt",
                "template: c/templates/NOTES.txt:1: function \"nofunc\" not defined"
            ),
            "parse error at (c/templates/NOTES.txt:1): function \"nofunc\" not defined"
        );
        assert_eq!(
            cleanup_parse_error("f", "no colon here"),
            "parse error in (f): no colon here"
        );
    }

    #[test]
    fn exec_errors_unwrap_required_and_fail() {
        assert_eq!(
            cleanup_exec_error(
                "c/templates/NOTES.txt",
                "template: c/templates/NOTES.txt:1:3: executing \"c/templates/NOTES.txt\" at \
                 <required \"x\" .Values.a>: error calling required: HELM_ERR_STARTneed aHELM_ERR_END"
            ),
            "execution error at (c/templates/NOTES.txt:1:3): need a"
        );
        let plain = "template: c/templates/NOTES.txt:1:10: executing \"c/templates/NOTES.txt\" at \
                     <.Values.b.c>: nil pointer evaluating interface {}.c";
        assert_eq!(cleanup_exec_error("c/templates/NOTES.txt", plain), plain);
    }

    #[test]
    fn causes() {
        let check = |helm: &str, cause: &str| assert_eq!(essential_cause(helm), cause);
        check(
            "Error: INSTALLATION FAILED: parse error at (c/templates/NOTES.txt:1): unexpected \"}\" in operand\n",
            "unexpected \"}\" in operand",
        );
        check(
            "Error: INSTALLATION FAILED: execution error at (c/templates/NOTES.txt:1:3): need b\n",
            "need b",
        );
        check(
            "Error: INSTALLATION FAILED: template: c/templates/NOTES.txt:1:3: executing \
             \"c/templates/NOTES.txt\" at <include \"x\" .>: error calling include: template: \
             c/templates/_helpers.tpl:1:26: executing \"x\" at <.Values.b.c>: nil pointer \
             evaluating interface {}.c\n",
            "nil pointer evaluating interface {}.c",
        );
        check(
            "Error: INSTALLATION FAILED: template: c/templates/NOTES.txt:1:3: executing \
             \"c/templates/NOTES.txt\" at <lt 1 2.5>: error calling lt: incompatible types for comparison\n",
            "error calling lt: incompatible types for comparison",
        );
    }
}
