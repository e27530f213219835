//! `flotilla auth can-i` on the example fleet: the explanation on stdout, exit 0 when allowed,
//! 1 when denied, 2 for usage mistakes.

use super::{FLEET, run};

fn can_i(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["auth", "can-i"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--fleet", FLEET]);
    run(&all)
}

#[test]
fn allowed_exits_0_and_names_the_role_binding_and_rule() {
    let (code, out, err) = can_i(&[
        "deploy",
        "payments-api",
        "--cluster",
        "aws-prod-use1",
        "--as",
        "user:alice",
        "--groups",
        "payments,payments-oncall",
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.starts_with(
            "allowed: user:alice may deploy payments-api on aws-prod-use1\n  role `service-owner` (rule 2), bound to `group:payments`, allows `deploy` of `payments-api`\n"
        ),
        "{out}"
    );
}

#[test]
fn denied_exits_1_and_says_which_condition_failed() {
    let (code, out, err) = can_i(&[
        "deploy",
        "payments-api",
        "--cluster",
        "aws-prod-use1",
        "--as",
        "user:bob",
        "--groups",
        "payments",
    ]);
    assert_eq!((code, err.as_str()), (1, ""));
    assert!(
        out.starts_with("denied: user:bob may not deploy payments-api on aws-prod-use1\n"),
        "{out}"
    );
    assert!(out.contains("`when` is false"), "{out}");
    assert!(out.contains("the default is deny"), "{out}");
}

#[test]
fn json_output() {
    let (code, out, _) = can_i(&[
        "manage-clusters",
        "--cluster",
        "gcp-dev-euw1",
        "--as",
        "user:pat",
        "--groups",
        "platform",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("\"allowed\": true"), "{out}");
    assert!(out.contains("\"role\": \"platform-admin\""), "{out}");
}

#[test]
fn usage_mistakes_exit_2() {
    let (code, _, err) = can_i(&[
        "deploy",
        "payments-api",
        "--cluster",
        "aws-prod-use9",
        "--as",
        "user:alice",
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "error: the fleet has no cluster `aws-prod-use9` (did you mean `aws-prod-use1`?)\n"
    );
    let (code, _, err) = can_i(&["deploy", "payments-api", "--as", "alice"]);
    assert_eq!(code, 2);
    assert!(err.contains("has no `user:` or `group:` prefix"), "{err}");
    let (code, _, _) = can_i(&["destroy", "payments-api", "--as", "user:alice"]);
    assert_eq!(code, 2);
}

#[test]
fn every_role_bound_to_the_user_is_listed_as_bound() {
    // alice is bound to `payments-deployer` herself and, through `group:payments`, to
    // `service-owner`, which allows first: `payments-deployer` is bound but not tried, and
    // only the roles bound to others are "not bound to you".
    let (code, out, err) = can_i(&[
        "deploy",
        "payments-api",
        "--cluster",
        "aws-prod-use1",
        "--as",
        "user:alice",
        "--groups",
        "payments,payments-oncall",
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    insta::assert_snapshot!("alice_with_groups", out);
    // Without groups she has `payments-deployer` only, which is for AWS clusters.
    let (code, out, err) = can_i(&[
        "deploy",
        "payments-api",
        "--cluster",
        "gcp-dev-euw1",
        "--as",
        "user:alice",
    ]);
    assert_eq!((code, err.as_str()), (1, ""));
    insta::assert_snapshot!("alice_alone", out);
}

#[test]
fn a_service_the_fleet_does_not_have_is_a_usage_mistake() {
    let (code, out, err) = can_i(&[
        "deploy",
        "paymnets-api",
        "--cluster",
        "aws-prod-use1",
        "--as",
        "user:alice",
    ]);
    assert_eq!((code, out.as_str()), (2, ""));
    insta::assert_snapshot!("unknown_service", err);
    let (code, out, err) = can_i(&["read", "nosuch", "--as", "group:engineering"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(err, "error: the fleet has no service `nosuch`\n");
    // A first publish names a service the fleet does not have yet: answered, not refused.
    let (code, out, err) = can_i(&["publish", "new-service", "--as", "group:platform"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.starts_with("allowed: group:platform may publish new-service\n"),
        "{out}"
    );
}
