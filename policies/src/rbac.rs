//! Who may do what where: roles (lists of allow rules), bindings of roles to users and
//! groups, and the decision for one request (`policies/rbac.yaml`).
//!
//! Deny by default. Roles are tried in the order they are written, each role's rules in order;
//! the first rule that allows the request decides. A role is used only when a binding gives it
//! to the principal (the first such binding, in file order, is the one reported). Roles do not
//! include other roles, so bindings cannot form cycles.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use cel::Value;
use serde::Serialize;
use syntax::fields::FieldDef;
use syntax::model::{ClusterSpec, Data, ServiceSpec};
use syntax::yaml::Kind;
use targeting::{self, ClauseValue, Explanation, Outcome};

use crate::expr::{self, Expr, Frame, Place};
use crate::glob::Glob;
use crate::yaml_cx::{CelFields as _, Cx, first_definition};

/// What a principal wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Install or upgrade a service's release on a cluster.
    Deploy,
    /// Publish a new version of a service.
    Publish,
    /// Add, change or remove clusters.
    ManageClusters,
    /// Read plans, status and diffs.
    Read,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::Deploy,
        Action::Publish,
        Action::ManageClusters,
        Action::Read,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deploy => "deploy",
            Action::Publish => "publish",
            Action::ManageClusters => "manage-clusters",
            Action::Read => "read",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Action, String> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown action `{s}`"))
    }
}

/// Whether a subject or principal is a user or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    User,
    Group,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::User => "user",
            SubjectKind::Group => "group",
        }
    }
}

/// A user or a group named in a binding: `user:alice`, `group:payments`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Subject {
    pub kind: SubjectKind,
    pub name: String,
}

/// Why a subject does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("`{0}` has no `user:` or `group:` prefix")]
    NoPrefix(String),
    #[error("`{0}` names no one after its prefix")]
    EmptyName(String),
    #[error("`{0}` contains {1:?}")]
    BadChar(String, char),
    #[error("a name is longer than {MAX_NAME} bytes")]
    TooLong,
    #[error("more than {MAX_GROUPS} groups")]
    TooManyGroups,
}

impl FromStr for Subject {
    type Err = SubjectError;

    fn from_str(s: &str) -> Result<Subject, SubjectError> {
        let (kind, name) = if let Some(n) = s.strip_prefix("user:") {
            (SubjectKind::User, n)
        } else if let Some(n) = s.strip_prefix("group:") {
            (SubjectKind::Group, n)
        } else {
            return Err(SubjectError::NoPrefix(s.to_owned()));
        };
        check_name(s, name)?;
        Ok(Subject {
            kind,
            name: name.to_owned(),
        })
    }
}

fn check_name(whole: &str, name: &str) -> Result<(), SubjectError> {
    if name.is_empty() {
        return Err(SubjectError::EmptyName(whole.to_owned()));
    }
    if name.len() > MAX_NAME {
        return Err(SubjectError::TooLong);
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '*' | '?' | '['))
    {
        return Err(SubjectError::BadChar(whole.to_owned(), c));
    }
    Ok(())
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.name)
    }
}

/// Who asks: a user (or a group acting as itself) and the groups it belongs to. CEL sees it as
/// `principal.name`, `principal.kind` (`user` or `group`) and `principal.groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub kind: SubjectKind,
    pub name: String,
    pub groups: Vec<String>,
}

/// Principals with more groups, or longer names, than this are refused.
pub const MAX_GROUPS: usize = 1024;
pub const MAX_NAME: usize = 256;

impl Principal {
    /// `user:alice` (or `group:payments`) and its groups.
    pub fn parse(subject: &str, groups: &[String]) -> Result<Principal, SubjectError> {
        let s: Subject = subject.parse()?;
        if groups.len() > MAX_GROUPS {
            return Err(SubjectError::TooManyGroups);
        }
        let mut gs = Vec::new();
        for g in groups {
            let g = g.trim();
            if g.is_empty() {
                continue;
            }
            check_name(g, g)?;
            if !gs.iter().any(|x| x == g) {
                gs.push(g.to_owned());
            }
        }
        Ok(Principal {
            kind: s.kind,
            name: s.name,
            groups: gs,
        })
    }

    pub fn subject(&self) -> Subject {
        Subject {
            kind: self.kind,
            name: self.name.clone(),
        }
    }

    /// Whether a binding's subject names this principal (itself, or one of its groups).
    pub fn is(&self, s: &Subject) -> bool {
        match s.kind {
            SubjectKind::User => self.kind == SubjectKind::User && self.name == s.name,
            SubjectKind::Group => {
                (self.kind == SubjectKind::Group && self.name == s.name)
                    || self.groups.contains(&s.name)
            }
        }
    }

    pub(crate) fn value(&self) -> Value {
        expr::record(&[
            ("name", expr::string(&self.name)),
            ("kind", expr::string(self.kind.as_str())),
            (
                "groups",
                Value::List(std::sync::Arc::new(
                    self.groups.iter().map(|g| expr::string(g)).collect(),
                )),
            ),
        ])
    }

    pub(crate) fn bound(&self) -> u64 {
        expr::bound(&[self.groups.len()])
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.name)
    }
}

/// The service a request is about, as CEL sees it: `service.name`, `service.team` (its owners'
/// team; empty when the service is not in the fleet, e.g. a first publish).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub name: String,
    pub team: String,
}

impl Service {
    /// A service known only by name.
    pub fn named(name: &str) -> Service {
        Service {
            name: name.to_owned(),
            team: String::new(),
        }
    }
}

impl From<&ServiceSpec> for Service {
    fn from(s: &ServiceSpec) -> Service {
        Service {
            name: s.name.as_str().to_owned(),
            team: s.owners.team.clone(),
        }
    }
}

/// What happens when no rule allows a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultDecision {
    Deny,
    Allow,
}

/// `policies/rbac.yaml`, loaded.
#[derive(Debug)]
pub struct Rbac {
    /// The file it was read from, relative to the fleet root.
    pub file: String,
    pub roles: Vec<Role>,
    pub bindings: Vec<Binding>,
    pub default: DefaultDecision,
}

#[derive(Debug)]
pub struct Role {
    pub name: String,
    pub allow: Vec<Allow>,
    /// Where the name is written.
    pub span: Range<usize>,
}

/// One allow rule of a role: it allows a request when the action is listed, the service and
/// the cluster match a glob (when given), and `when` holds (when given).
#[derive(Debug)]
pub struct Allow {
    pub actions: Vec<Action>,
    /// `None`: any service.
    pub services: Option<Vec<Glob>>,
    /// `None`: any cluster.
    pub clusters: Option<Vec<Glob>>,
    pub when: Option<Expr>,
    pub span: Range<usize>,
}

#[derive(Debug)]
pub struct Binding {
    pub role: String,
    pub subjects: Vec<Subject>,
    pub span: Range<usize>,
}

const fn field(name: &'static str, required: bool) -> FieldDef {
    FieldDef {
        name,
        required,
        fields: &[],
    }
}

/// The fields of an allow rule.
pub const ALLOW_FIELDS: &[FieldDef] = &[
    field("actions", true),
    field("services", false),
    field("clusters", false),
    field("when", false),
];

/// The fields of a role.
pub const ROLE_FIELDS: &[FieldDef] = &[
    field("name", true),
    FieldDef {
        name: "allow",
        required: true,
        fields: ALLOW_FIELDS,
    },
];

/// The fields of a binding.
pub const BINDING_FIELDS: &[FieldDef] = &[field("role", true), field("subjects", true)];

/// The fields of `policies/rbac.yaml` (for lists, `fields` are those of each item).
pub const RBAC_FIELDS: &[FieldDef] = &[
    FieldDef {
        name: "roles",
        required: false,
        fields: ROLE_FIELDS,
    },
    FieldDef {
        name: "bindings",
        required: false,
        fields: BINDING_FIELDS,
    },
    field("default", false),
];

/// Reads `policies/rbac.yaml`; problems go to the report.
pub(crate) fn load(cx: &mut Cx<'_, '_>) -> Rbac {
    let mut rbac = Rbac {
        file: cx.file.to_owned(),
        roles: Vec::new(),
        bindings: Vec::new(),
        default: DefaultDecision::Deny,
    };
    let Some(root) = cx.root() else {
        return rbac;
    };
    let Some(fields) = cx.fields(&root, RBAC_FIELDS, "the RBAC policy") else {
        return rbac;
    };
    if let Some(e) = fields.get("default") {
        match e.value.as_str() {
            Some("deny") => {}
            Some("allow") => rbac.default = DefaultDecision::Allow,
            _ => cx.error(
                "rbac::default",
                format!(
                    "`default` must be `deny` or `allow`, found `{}`",
                    cx.text.get(e.value.span.clone()).unwrap_or("").trim()
                ),
                e.value.span.clone(),
                "not deny or allow",
                Some("requests no rule allows are denied with `default: deny`".into()),
            ),
        }
    }
    let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
    if let Some(e) = fields.get("roles")
        && let Some(items) = cx.list(&e.value, "`roles`")
    {
        for item in items {
            let Some(f) = cx.fields(item, ROLE_FIELDS, "a role") else {
                continue;
            };
            let Some(name_node) = f.get("name").map(|e| &e.value) else {
                continue;
            };
            let Some(name) = cx.non_empty(name_node, "the role's `name`") else {
                continue;
            };
            let span = name_node.span.clone();
            if !first_definition(
                cx,
                &mut seen,
                &name,
                span.clone(),
                "rbac::duplicate-role",
                "role",
            ) {
                continue;
            }
            let mut allow = Vec::new();
            if let Some(a) = f.get("allow")
                && let Some(rules) = cx.list(&a.value, "`allow`")
            {
                if rules.is_empty() {
                    cx.warning(
                        "rbac::empty-role",
                        format!("role `{name}` allows nothing"),
                        a.value.span.clone(),
                        "no rules",
                        Some("give it at least one rule, or remove it".into()),
                    );
                }
                for r in rules {
                    if let Some(rule) = allow_rule(cx, r) {
                        allow.push(rule);
                    }
                }
            }
            rbac.roles.push(Role { name, allow, span });
        }
    }
    // Roles some binding names, even a broken one (whose own problems are reported).
    let mut named: Vec<String> = Vec::new();
    if let Some(e) = fields.get("bindings")
        && let Some(items) = cx.list(&e.value, "`bindings`")
    {
        for item in items {
            if let syntax::yaml::Kind::Map(entries) = &item.kind
                && let Some(role) = entries
                    .iter()
                    .find(|e| e.key.as_str() == Some("role"))
                    .and_then(|e| e.value.as_str())
            {
                named.push(role.to_owned());
            }
            if let Some(b) = binding(cx, item, &seen) {
                rbac.bindings.push(b);
            }
        }
    }
    // A role no binding gives to anyone is dead code.
    for role in &rbac.roles {
        if !named.contains(&role.name) {
            cx.warning(
                "rbac::unbound-role",
                format!("role `{}` is bound to no one", role.name),
                role.span.clone(),
                "never used",
                Some(format!(
                    "add a binding `{{role: {}, subjects: [\"group:...\"]}}`, or remove the role",
                    role.name
                )),
            );
        }
    }
    rbac
}

fn globs(cx: &mut Cx<'_, '_>, node: &syntax::yaml::Node, what: &str) -> Option<Vec<Glob>> {
    let items = cx.list(node, what)?;
    if items.is_empty() {
        cx.error(
            "rbac::empty-list",
            format!("{what} is empty, so the rule can never apply"),
            node.span.clone(),
            "empty",
            Some(format!("omit {what} to mean any")),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        let Some(text) = cx.non_empty(item, &format!("an entry of {what}")) else {
            ok = false;
            continue;
        };
        let embedded = cx.embedded(item, text.clone());
        match Glob::new(&text) {
            Ok(g) => {
                if let Some(c) = g.impossible_char() {
                    cx.warning(
                        "rbac::glob",
                        format!("`{text}` can never match: names have no {c:?}"),
                        embedded.file_range(0..text.len()),
                        "matches nothing",
                        Some(
                            "service and cluster names are lower case letters, digits and '-'"
                                .into(),
                        ),
                    );
                }
                out.push(g);
            }
            Err(e) => {
                let span = embedded.file_range(e.at..e.at + 1);
                cx.error(
                    "rbac::glob",
                    format!("invalid glob `{text}`: {}", e.message),
                    span,
                    "here",
                    Some("globs have `*`, `?`, `[a-z]`, `[!a-z]`, and `\\` to escape".into()),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn allow_rule(cx: &mut Cx<'_, '_>, node: &syntax::yaml::Node) -> Option<Allow> {
    let f = cx.fields(node, ALLOW_FIELDS, "an allow rule")?;
    let mut ok = true;
    let mut actions = Vec::new();
    if let Some(e) = f.get("actions")
        && let Some(items) = cx.list(&e.value, "`actions`")
    {
        if items.is_empty() {
            cx.error(
                "rbac::empty-list",
                "`actions` is empty, so the rule can never apply",
                e.value.span.clone(),
                "empty",
                Some(format!(
                    "list some of {}",
                    Action::ALL
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
            ok = false;
        }
        for item in items {
            let Some(s) = item.as_str() else {
                cx.wrong_type(item, "a string", "an action");
                ok = false;
                continue;
            };
            match s.parse::<Action>() {
                Ok(a) => {
                    if !actions.contains(&a) {
                        actions.push(a);
                    }
                }
                Err(message) => {
                    let names = Action::ALL.map(Action::as_str);
                    let help = match syntax::diag::suggest(s, names) {
                        Some(x) => format!("did you mean `{x}`?"),
                        None => format!(
                            "the actions are {}",
                            names
                                .iter()
                                .map(|a| format!("`{a}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    cx.error(
                        "rbac::unknown-action",
                        message,
                        item.span.clone(),
                        "unknown action",
                        Some(help),
                    );
                    ok = false;
                }
            }
        }
    } else {
        ok = false;
    }
    let services = match f.get("services") {
        Some(e) => {
            let g = globs(cx, &e.value, "`services`");
            ok &= g.is_some();
            g
        }
        None => None,
    };
    let clusters = match f.get("clusters") {
        Some(e) => {
            let g = globs(cx, &e.value, "`clusters`");
            ok &= g.is_some();
            g
        }
        None => None,
    };
    let when = match f.get("when") {
        Some(e) => {
            let w = cx.cel(&e.value, Place::When, "`when`");
            ok &= w.is_some();
            w
        }
        None => None,
    };
    // A broken rule is dropped: it allows nothing (the report has its errors).
    ok.then_some(Allow {
        actions,
        services,
        clusters,
        when,
        span: node.span.clone(),
    })
}

fn binding(
    cx: &mut Cx<'_, '_>,
    node: &syntax::yaml::Node,
    roles: &BTreeMap<String, Range<usize>>,
) -> Option<Binding> {
    let f = cx.fields(node, BINDING_FIELDS, "a binding")?;
    let role_node = &f.get("role")?.value;
    let role = cx.non_empty(role_node, "the binding's `role`")?;
    let mut ok = true;
    if !roles.contains_key(&role) {
        let help = match syntax::diag::suggest(&role, roles.keys().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None if roles.is_empty() => "the policy declares no roles".to_owned(),
            None => format!(
                "the roles are {}",
                roles
                    .keys()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        cx.error(
            "rbac::unknown-role",
            format!("the binding names role `{role}`, which is not declared"),
            role_node.span.clone(),
            "unknown role",
            Some(help),
        );
        ok = false;
    }
    let subjects_node = &f.get("subjects")?.value;
    let items = cx.list(subjects_node, "`subjects`")?;
    if items.is_empty() {
        cx.error(
            "rbac::empty-subjects",
            format!("the binding of `{role}` has no subjects"),
            subjects_node.span.clone(),
            "no one",
            Some(
                "list who gets the role, e.g. `subjects: [\"group:payments\", \"user:alice\"]`"
                    .into(),
            ),
        );
        ok = false;
    }
    let mut subjects: Vec<Subject> = Vec::new();
    for item in items {
        let Kind::Str(s) = &item.kind else {
            cx.wrong_type(item, "a string", "a subject");
            ok = false;
            continue;
        };
        match s.parse::<Subject>() {
            Ok(subject) => {
                if subjects.contains(&subject) {
                    cx.warning(
                        "rbac::duplicate-subject",
                        format!("`{subject}` is listed twice"),
                        item.span.clone(),
                        "listed again here",
                        Some("remove one".into()),
                    );
                } else {
                    subjects.push(subject);
                }
            }
            Err(e) => {
                let help = match &e {
                    SubjectError::NoPrefix(_) => {
                        format!("write `user:{s}` for a user or `group:{s}` for a group")
                    }
                    SubjectError::EmptyName(_) => "name the user or group after the prefix".into(),
                    SubjectError::BadChar(..) => {
                        "subjects name one user or group exactly; globs are not supported".into()
                    }
                    SubjectError::TooLong | SubjectError::TooManyGroups => {
                        "shorten the name".into()
                    }
                };
                cx.error(
                    "rbac::subject",
                    format!("invalid subject {e}"),
                    item.span.clone(),
                    "not `user:NAME` or `group:NAME`",
                    Some(help),
                );
                ok = false;
            }
        }
    }
    ok.then_some(Binding {
        role,
        subjects,
        span: node.span.clone(),
    })
}

/// Who or what decided a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "by")]
pub enum DecidedBy {
    /// An allow rule of a role the principal is bound to.
    Rule {
        role: String,
        /// 1-based, in the order the role lists its rules.
        rule: usize,
        /// 1-based, in the order of `bindings`.
        binding: usize,
        /// The binding's subject that names the principal.
        subject: String,
    },
    /// No rule allowed it; the policy's default applied.
    Default { default: DefaultDecision },
    /// The fleet has no RBAC policy: everything is allowed.
    NoPolicy,
}

/// The answer to "may principal do action on service in cluster?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    #[serde(flatten)]
    pub by: DecidedBy,
    /// One sentence: what allowed it, or the first reason it was denied.
    pub reason: String,
}

impl Decision {
    /// The decision when a fleet has no `policies/rbac.yaml`.
    pub fn no_policy() -> Decision {
        Decision {
            allowed: true,
            by: DecidedBy::NoPolicy,
            reason: "the fleet has no policies/rbac.yaml, so every request is allowed".into(),
        }
    }
}

/// What one allow rule said about a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum RuleTrace {
    Allowed,
    /// The rule does not list the action.
    Action,
    /// No glob of `services` matches (or no service was given).
    Service,
    /// No glob of `clusters` matches (or no cluster was given).
    Cluster,
    /// `when` is false.
    WhenFalse {
        explanation: Explanation,
    },
    /// `when` failed to evaluate (which allows nothing).
    WhenError {
        error: String,
    },
}

/// How a request was decided, role by role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explained {
    pub principal: Principal,
    /// The request in words: `deploy payments-api on aws-prod-use1`.
    pub request: String,
    pub decision: Decision,
    /// The roles bound to the principal, in order, with each rule's result (up to the rule
    /// that allowed).
    pub roles: Vec<RoleTrace>,
    /// Roles bound to the principal that come after the role that allowed the request (their
    /// `rules` are empty: they were not tried).
    pub not_tried: Vec<RoleTrace>,
    /// Roles bound to someone else.
    pub unbound: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleTrace {
    pub role: String,
    /// 1-based binding index and the subject through which the principal has the role.
    pub binding: usize,
    pub subject: String,
    pub rules: Vec<(usize, RuleTrace)>,
}

/// A request: who wants to do what, on which service, in which cluster.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    pub action: Action,
    pub service: &'a Service,
    pub cluster: Option<&'a ClusterSpec>,
    /// The input bound of the CEL variables ([`expr::bound`]).
    bound: u64,
}

/// The CEL values of a request's variables.
struct Values {
    principal: Value,
    service: Value,
    action: Value,
    cluster: Option<Value>,
}

impl Values {
    fn vars(&self) -> Vec<(&str, &Value)> {
        let mut vars: Vec<(&str, &Value)> = vec![
            ("principal", &self.principal),
            ("service", &self.service),
            ("action", &self.action),
        ];
        if let Some(c) = &self.cluster {
            vars.push(("cluster", c));
        }
        vars
    }
}

/// The size bound of a cluster's data as CEL sees it.
pub(crate) fn cluster_bound(c: &ClusterSpec) -> u64 {
    fn data(d: &Data, depth: usize) -> u64 {
        if depth > expr::MAX_OBJECT_DEPTH {
            return 1;
        }
        match d {
            Data::List(l) => l
                .iter()
                .map(|x| data(x, depth + 1))
                .fold(l.len() as u64, u64::max),
            Data::Map(m) => m
                .values()
                .map(|v| data(v, depth + 1))
                .fold(m.len() as u64, u64::max),
            _ => 1,
        }
    }
    c.metadata
        .values()
        .map(|v| data(v, 0))
        .fold(expr::bound(&[c.tags.len(), c.metadata.len()]), u64::max)
}

impl<'a> Request<'a> {
    pub fn new(
        principal: &'a Principal,
        action: Action,
        service: &'a Service,
        cluster: Option<&'a ClusterSpec>,
    ) -> Request<'a> {
        let bound = principal.bound().max(cluster.map_or(1, cluster_bound));
        Request::with_bound(principal, action, service, cluster, bound)
    }

    /// With the input bound of the principal and the cluster already known.
    pub(crate) fn with_bound(
        principal: &'a Principal,
        action: Action,
        service: &'a Service,
        cluster: Option<&'a ClusterSpec>,
        bound: u64,
    ) -> Request<'a> {
        Request {
            principal,
            action,
            service,
            cluster,
            bound,
        }
    }

    fn values(&self) -> Values {
        Values {
            principal: self.principal.value(),
            service: self.service.value(),
            action: expr::string(self.action.as_str()),
            cluster: self.cluster.map(targeting::cluster_value),
        }
    }

    /// The action and service, for reasons (the cluster is left out, so that denials on many
    /// clusters share one reason).
    fn place(&self) -> String {
        let mut s = format!("`{}`", self.action);
        if !self.service.name.is_empty() {
            s.push_str(&format!(" of `{}`", self.service.name));
        }
        s
    }
}

impl Service {
    /// The service as CEL sees it.
    pub(crate) fn value(&self) -> Value {
        expr::record(&[
            ("name", expr::string(&self.name)),
            ("team", expr::string(&self.team)),
        ])
    }
}

impl Rbac {
    /// Whether `principal` may do `action` on `service` in `cluster` (when the action concerns
    /// one; a rule with `clusters` or a `when` reading `cluster` allows nothing without one).
    pub fn allowed(
        &self,
        principal: &Principal,
        action: Action,
        service: &Service,
        cluster: Option<&ClusterSpec>,
    ) -> Decision {
        let request = Request::new(principal, action, service, cluster);
        self.decide(&request, None)
    }

    /// The decision with every role and rule that was considered.
    pub fn explain(
        &self,
        principal: &Principal,
        action: Action,
        service: &Service,
        cluster: Option<&ClusterSpec>,
    ) -> Explained {
        let request = Request::new(principal, action, service, cluster);
        let mut roles = Vec::new();
        let decision = self.decide(&request, Some(&mut roles));
        // The roles the principal has, whether or not the decision reached them: the first
        // role that allows decides, so the ones after it are bound but not tried.
        let bound = self.roles_of(principal);
        let not_tried = bound
            .iter()
            .filter(|(role, _, _)| !roles.iter().any(|t: &RoleTrace| t.role == role.name))
            .map(|(role, binding, subject)| RoleTrace {
                role: role.name.clone(),
                binding: *binding,
                subject: subject.to_string(),
                rules: Vec::new(),
            })
            .collect();
        let unbound = self
            .roles
            .iter()
            .filter(|r| !bound.iter().any(|(b, _, _)| b.name == r.name))
            .map(|r| r.name.clone())
            .collect();
        let mut words = action.to_string();
        if !service.name.is_empty() {
            words.push(' ');
            words.push_str(&service.name);
        }
        if let Some(c) = cluster {
            words.push_str(" on ");
            words.push_str(c.name.as_str());
        }
        Explained {
            principal: principal.clone(),
            request: words,
            decision,
            roles,
            not_tried,
            unbound,
        }
    }

    /// The roles bound to a principal, in role order, each with the first binding (1-based)
    /// and subject that gives it.
    pub fn roles_of(&self, principal: &Principal) -> Vec<(&Role, usize, &Subject)> {
        self.roles
            .iter()
            .filter_map(|role| {
                self.bindings
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.role == role.name)
                    .find_map(|(i, b)| {
                        b.subjects
                            .iter()
                            .find(|s| principal.is(s))
                            .map(|s| (role, i + 1, s))
                    })
            })
            .collect()
    }

    /// Decides a request; with `trace`, records every role and rule considered.
    fn decide(&self, req: &Request<'_>, trace: Option<&mut Vec<RoleTrace>>) -> Decision {
        let bound = self.roles_of(req.principal);
        let values = req.values();
        expr::with_frame(&values.vars(), |frame| {
            self.decide_in(req, &bound, frame, trace)
        })
    }

    /// Decides a request given the roles bound to its principal ([`Rbac::roles_of`]), in a
    /// frame holding the request's CEL variables (`principal`, `action`, `service`, and
    /// `cluster` when there is one).
    pub(crate) fn decide_in(
        &self,
        req: &Request<'_>,
        bound: &[(&Role, usize, &Subject)],
        frame: &Frame<'_, '_>,
        mut trace: Option<&mut Vec<RoleTrace>>,
    ) -> Decision {
        // The most telling reason for a denial: a rule that covered the request but whose
        // `when` was false or failed.
        let mut near: Option<String> = None;
        for (role, binding, subject) in bound {
            let mut rules = Vec::new();
            let mut allowed_by = None;
            for (i, rule) in role.allow.iter().enumerate() {
                let t = rule_result(rule, req, frame, trace.is_some());
                match &t {
                    RuleTrace::Allowed => allowed_by = Some(i + 1),
                    RuleTrace::WhenFalse { .. } if near.is_none() => {
                        near = Some(format!(
                            "role `{}` (rule {}) allows {} only when `{}`, which is false here",
                            role.name,
                            i + 1,
                            req.place(),
                            rule.when.as_ref().map_or("", |w| w.text.as_str()).trim()
                        ));
                    }
                    RuleTrace::WhenError { error } if near.is_none() => {
                        near = Some(format!(
                            "the `when` of role `{}` (rule {}) failed: {error}",
                            role.name,
                            i + 1
                        ));
                    }
                    _ => {}
                }
                if trace.is_some() {
                    rules.push((i + 1, t));
                }
                if allowed_by.is_some() {
                    break;
                }
            }
            if let Some(t) = trace.as_deref_mut() {
                t.push(RoleTrace {
                    role: role.name.clone(),
                    binding: *binding,
                    subject: subject.to_string(),
                    rules,
                });
            }
            if let Some(rule) = allowed_by {
                return Decision {
                    allowed: true,
                    by: DecidedBy::Rule {
                        role: role.name.clone(),
                        rule,
                        binding: *binding,
                        subject: subject.to_string(),
                    },
                    reason: format!(
                        "role `{}` (rule {rule}), bound to `{subject}`, allows {}",
                        role.name,
                        req.place()
                    ),
                };
            }
        }
        let why = match near {
            Some(n) => n,
            None if bound.is_empty() => format!("no role is bound to `{}`", req.principal),
            None => format!(
                "no role bound to `{}` allows {}",
                req.principal,
                req.place()
            ),
        };
        let allowed = self.default == DefaultDecision::Allow;
        Decision {
            allowed,
            by: DecidedBy::Default {
                default: self.default,
            },
            reason: if allowed {
                format!("{why}; the default is allow")
            } else {
                format!("{why}; the default is deny")
            },
        }
    }
}

fn rule_result(rule: &Allow, req: &Request<'_>, frame: &Frame<'_, '_>, explain: bool) -> RuleTrace {
    if !rule.actions.contains(&req.action) {
        return RuleTrace::Action;
    }
    if let Some(globs) = &rule.services
        && (req.service.name.is_empty() || !globs.iter().any(|g| g.matches(&req.service.name)))
    {
        return RuleTrace::Service;
    }
    if let Some(globs) = &rule.clusters {
        match req.cluster {
            Some(c) if globs.iter().any(|g| g.matches(c.name.as_str())) => {}
            _ => return RuleTrace::Cluster,
        }
    }
    let Some(when) = &rule.when else {
        return RuleTrace::Allowed;
    };
    if when.uses("cluster") && req.cluster.is_none() {
        return RuleTrace::WhenError {
            error: "it reads `cluster`, and the request names no cluster".into(),
        };
    }
    match frame.eval_bool(when, req.bound) {
        Outcome::Selected => RuleTrace::Allowed,
        Outcome::NotSelected => RuleTrace::WhenFalse {
            explanation: if explain {
                when.explain(&req.values().vars(), req.bound)
            } else {
                Explanation {
                    outcome: Outcome::NotSelected,
                    op: None,
                    clauses: Vec::new(),
                }
            },
        },
        Outcome::Error(error) => RuleTrace::WhenError { error },
    }
}

impl Explained {
    /// The decision and how it was reached, for people.
    pub fn render_text(&self) -> String {
        let principal = &self.principal;
        let mut out = String::new();
        let verdict = if self.decision.allowed {
            "allowed: {} may {}"
        } else {
            "denied: {} may not {}"
        };
        out.push_str(&verdict.replacen("{}", &principal.to_string(), 1).replacen(
            "{}",
            &self.request,
            1,
        ));
        out.push('\n');
        out.push_str(&format!("  {}\n", self.decision.reason));
        if matches!(self.decision.by, DecidedBy::NoPolicy) {
            return out;
        }
        if !principal.groups.is_empty() {
            out.push_str(&format!("groups: {}\n", principal.groups.join(", ")));
        }
        if self.roles.is_empty() {
            out.push_str("roles bound to you: none\n");
        }
        for role in &self.roles {
            out.push_str(&format!(
                "role {} (binding {}, as {}):\n",
                role.role, role.binding, role.subject
            ));
            for (i, t) in &role.rules {
                let line = match t {
                    RuleTrace::Allowed => "allows it".to_owned(),
                    RuleTrace::Action => "does not list the action".to_owned(),
                    RuleTrace::Service => "no glob of `services` matches the service".to_owned(),
                    RuleTrace::Cluster => "no glob of `clusters` matches the cluster".to_owned(),
                    RuleTrace::WhenFalse { .. } => "`when` is false".to_owned(),
                    RuleTrace::WhenError { error } => format!("`when` failed: {error}"),
                };
                out.push_str(&format!("  rule {i}: {line}\n"));
                if let RuleTrace::WhenFalse { explanation } = t {
                    for c in &explanation.clauses {
                        let (value, note) = match &c.value {
                            ClauseValue::Bool(b) => (b.to_string(), String::new()),
                            ClauseValue::Other(v) => ("value".to_owned(), format!("  <- {v}")),
                            ClauseValue::Error(e) => ("error".to_owned(), format!("  <- {e}")),
                        };
                        out.push_str(&format!("    {value:<6} {}{note}\n", c.text));
                    }
                }
            }
        }
        for role in &self.not_tried {
            out.push_str(&format!(
                "role {} (binding {}, as {}): not tried, an earlier role allows it\n",
                role.role, role.binding, role.subject
            ));
        }
        if !self.unbound.is_empty() {
            out.push_str(&format!(
                "roles not bound to you: {}\n",
                self.unbound.join(", ")
            ));
        }
        out
    }

    /// The decision and how it was reached, as JSON.
    pub fn render_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }
}
