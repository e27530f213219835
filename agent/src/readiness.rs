//! Readiness of one Kubernetes object, computed from its JSON as the API server returns it.
//!
//! A port of kstatus' rules (`sigs.k8s.io/cli-utils`, `pkg/kstatus/status`, `Compute`): the
//! generic properties first (deletion, observed generation, `Reconciling`/`Stalled` conditions),
//! then the rules of the built-in kinds, then a `Ready` condition, and otherwise `Current`. Where
//! kstatus returns an error (a field of an unexpected shape, an unknown Pod phase) the status is
//! [`Status::Unknown`]. Beyond kstatus: Pods report containers (init containers included) stuck
//! in `CrashLoopBackOff`, `ImagePullBackOff` or `ErrImagePull` as [`Fault`]s, a `LoadBalancer`
//! Service also waits for `status.loadBalancer.ingress`, and [`compute`] never reads the clock.

use serde_json::{Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// kstatus' status of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The latest spec is not reconciled yet, or the object is still converging.
    InProgress,
    /// Reconciliation is stuck and will not succeed without intervention.
    Failed,
    /// The object is fully reconciled.
    Current,
    /// The object is scheduled for deletion.
    Terminating,
    /// The object does not exist (for callers that looked it up; [`compute`] never returns it).
    NotFound,
    /// The status cannot be computed, e.g. because a field has an unexpected shape.
    Unknown,
}

/// The readiness of one object: its status, why, and the service fault behind a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// kstatus' status.
    pub status: Status,
    /// The reason of the `Reconciling` (InProgress) or `Stalled` (Failed) condition kstatus
    /// derives, e.g. `LessReady`; `None` when there is none or it is empty.
    pub reason: Option<String>,
    /// A human-readable explanation (kstatus' message).
    pub message: String,
    /// The service fault behind a `Failed` status, when it is one detectable from the object.
    pub fault: Option<Fault>,
}

/// Service faults detectable from Pods, Jobs and Deployments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A container (the first one, if several) waits in `CrashLoopBackOff`.
    CrashLoopBackOff {
        /// The container's name.
        container: String,
    },
    /// A container (the first one, if several) cannot pull its image.
    ImagePull {
        /// The container's name.
        container: String,
        /// The image as the container status names it.
        image: String,
        /// `ImagePullBackOff` or `ErrImagePull`.
        reason: String,
    },
    /// A Job has the condition `Failed=True`.
    JobFailed,
    /// A Deployment's `Progressing` condition has the reason `ProgressDeadlineExceeded`.
    ProgressDeadlineExceeded,
}

/// Computes the readiness of `object` (one object as the API server returns it).
///
/// Pure: the only time-dependent kstatus rule (an unschedulable Pod is `Failed` only once it is
/// older than 15 seconds) reports `InProgress` (`PodNotScheduled`); see [`compute_at`].
pub fn compute(object: &Value) -> Readiness {
    evaluate(object, None)
}

/// Like [`compute`], but an unschedulable Pod created more than 15 seconds before `now` (or with
/// no readable `metadata.creationTimestamp`) is `Failed` (`PodUnschedulable`), as in kstatus.
pub fn compute_at(object: &Value, now: SystemTime) -> Readiness {
    let nanos = match now.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => -i128::try_from(before.duration().as_nanos()).unwrap_or(i128::MAX),
    };
    evaluate(object, Some(nanos))
}

/// How long a Pod may stay unscheduled before it is reported as unschedulable (kstatus).
const SCHEDULE_WINDOW_NANOS: i128 = 15_000_000_000;

type Outcome = Result<Readiness, String>;
type Object = Map<String, Value>;

fn evaluate(object: &Value, now: Option<i128>) -> Readiness {
    let outcome = match object.as_object() {
        Some(obj) => rules(obj, now),
        None => Err("object is not a JSON object".to_owned()),
    };
    outcome.unwrap_or_else(|error| verdict(Status::Unknown, "", error, None))
}

fn rules(obj: &Object, now: Option<i128>) -> Outcome {
    let kind = string_field(obj, "kind", "");
    if let Some(readiness) = generic(obj, kind)? {
        return Ok(readiness);
    }
    let conds = conditions(obj)?;
    // Like Kubernetes' GroupVersionKind(): an apiVersion with more than one '/' has no kind.
    let api_version = string_field(obj, "apiVersion", "");
    let group = match api_version.matches('/').count() {
        0 => Some(""),
        1 => api_version.split('/').next(),
        _ => None,
    };
    match group.map_or(("", ""), |group| (group, kind)) {
        ("", "Service") => Ok(service(obj)),
        ("", "Pod") => pod(obj, &conds, now),
        ("", "Secret" | "ConfigMap") | ("batch", "CronJob") => {
            Ok(current("Resource is always ready"))
        }
        ("", "PersistentVolumeClaim") => Ok(pvc(obj)),
        ("apps", "StatefulSet") => Ok(stateful_set(obj)),
        ("apps" | "extensions", "DaemonSet") => daemon_set(obj, kind),
        ("apps" | "extensions", "Deployment") => Ok(deployment(obj, &conds)),
        ("apps" | "extensions", "ReplicaSet") => Ok(replica_set(obj, &conds)),
        ("policy", "PodDisruptionBudget") => Ok(current("AllowedDisruptions has been computed.")),
        ("batch", "Job") => Ok(job(obj, &conds)),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => Ok(crd(&conds)),
        _ => Ok(ready_condition(&conds).unwrap_or_else(|| current("Resource is current"))),
    }
}

fn verdict(status: Status, reason: &str, message: String, fault: Option<Fault>) -> Readiness {
    let reason = (!reason.is_empty()).then(|| reason.to_owned());
    Readiness {
        status,
        reason,
        message,
        fault,
    }
}

fn current(message: impl Into<String>) -> Readiness {
    verdict(Status::Current, "", message.into(), None)
}

fn in_progress(reason: &str, message: impl Into<String>) -> Readiness {
    verdict(Status::InProgress, reason, message.into(), None)
}

fn failed(reason: &str, message: impl Into<String>, fault: Option<Fault>) -> Readiness {
    verdict(Status::Failed, reason, message.into(), fault)
}

fn extra_pods(replicas: i64, spec: i64) -> Readiness {
    let message = format!("Pending termination: {}", replicas.wrapping_sub(spec));
    in_progress("ExtraPods", message)
}

/// Kubernetes' `NestedFieldNoCopy` on a dotted `path`: `Ok(None)` if absent (or under a null),
/// `Err` if a parent is not an object.
fn nested<'a>(obj: &'a Object, path: &str) -> Result<Option<&'a Value>, String> {
    let (parents, leaf) = path.rsplit_once('.').unwrap_or(("", path));
    let mut map = obj;
    for field in parents.split('.').filter(|field| !field.is_empty()) {
        map = match map.get(field) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(inner)) => inner,
            Some(_) => return Err(format!(".{path}: {field} is not an object")),
        };
    }
    Ok(map.get(leaf))
}

/// Kubernetes' `NestedInt64`: a present value that is not an integer is an error.
fn strict_int(obj: &Object, path: &str) -> Result<Option<i64>, String> {
    match nested(obj, path)? {
        None => Ok(None),
        Some(value) => match value.as_i64() {
            Some(int) => Ok(Some(int)),
            None => Err(format!(".{path} is not an integer")),
        },
    }
}

/// kstatus' `GetIntField`: the default when absent or of another type.
fn int_field(obj: &Object, path: &str, default: i64) -> i64 {
    let value = nested(obj, path).ok().flatten();
    value.and_then(Value::as_i64).unwrap_or(default)
}

/// kstatus' `GetStringField`.
fn string_field<'a>(obj: &'a Object, path: &str, default: &'a str) -> &'a str {
    let value = nested(obj, path).ok().flatten();
    value.and_then(Value::as_str).unwrap_or(default)
}

/// One entry of `status.conditions`.
#[derive(Default)]
struct Condition<'a> {
    kind: &'a str,
    status: &'a str,
    reason: &'a str,
    message: &'a str,
}

/// kstatus' `GetObjectWithConditions`: `status.conditions`, strictly typed.
fn conditions(obj: &Object) -> Result<Vec<Condition<'_>>, String> {
    let status = match obj.get("status") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(status)) => status,
        Some(_) => return Err(".status is not an object".to_owned()),
    };
    let list = match status.get("conditions") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(".status.conditions is not a list".to_owned()),
    };
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        match entry {
            Value::Null => out.push(Condition::default()),
            Value::Object(cond) => {
                for key in ["type", "status", "reason", "message"] {
                    if !matches!(cond.get(key), None | Some(Value::Null | Value::String(_))) {
                        return Err(format!("condition field {key} is not a string"));
                    }
                }
                let get = |key: &str| cond.get(key).and_then(Value::as_str).unwrap_or("");
                out.push(Condition {
                    kind: get("type"),
                    status: get("status"),
                    reason: get("reason"),
                    message: get("message"),
                });
            }
            _ => return Err("a condition is not an object".to_owned()),
        }
    }
    Ok(out)
}

fn find<'c, 'a>(conds: &'c [Condition<'a>], kind: &str, status: &str) -> Option<&'c Condition<'a>> {
    conds.iter().find(|c| c.kind == kind && c.status == status)
}

/// kstatus' `checkGenericProperties`: deletion, observed generation, `Reconciling`/`Stalled`.
fn generic(obj: &Object, kind: &str) -> Result<Option<Readiness>, String> {
    match nested(obj, "metadata.deletionTimestamp")? {
        Some(Value::String(at)) if !at.is_empty() => {
            let message = "Resource scheduled for deletion".to_owned();
            return Ok(Some(verdict(Status::Terminating, "", message, None)));
        }
        None | Some(Value::String(_)) => {}
        Some(_) => return Err(".metadata.deletionTimestamp is not a string".to_owned()),
    }
    if let Some(generation) = strict_int(obj, "metadata.generation")?
        && let Some(observed) = strict_int(obj, "status.observedGeneration")?
        && observed != generation
    {
        let message = format!(
            "{kind} generation is {generation}, but latest observed generation is {observed}"
        );
        return Ok(Some(in_progress("LatestGenerationNotObserved", message)));
    }
    for cond in conditions(obj)? {
        if cond.kind == "Reconciling" && cond.status == "True" {
            return Ok(Some(in_progress(cond.reason, cond.message)));
        }
        if cond.kind == "Stalled" && cond.status == "True" {
            return Ok(Some(failed(cond.reason, cond.message, None)));
        }
    }
    Ok(None)
}

/// kstatus' `checkReadyCondition`, for kinds without specific rules.
fn ready_condition(conds: &[Condition<'_>]) -> Option<Readiness> {
    conds
        .iter()
        .filter(|c| c.kind == "Ready")
        .find_map(|c| match c.status {
            "True" => Some(current("Resource is Ready")),
            "False" | "Unknown" => Some(in_progress(c.reason, c.message)),
            _ => None,
        })
}

fn stateful_set(obj: &Object) -> Readiness {
    if string_field(obj, "spec.updateStrategy.type", "") == "OnDelete" {
        return current("StatefulSet is using the ondelete update strategy");
    }
    let spec = int_field(obj, "spec.replicas", 1);
    let ready = int_field(obj, "status.readyReplicas", 0);
    let current_replicas = int_field(obj, "status.currentReplicas", 0);
    let updated = int_field(obj, "status.updatedReplicas", 0);
    let replicas = int_field(obj, "status.replicas", 0);
    let partition = int_field(obj, "spec.updateStrategy.rollingUpdate.partition", -1);
    if spec > replicas {
        return in_progress("LessReplicas", format!("Replicas: {replicas}/{spec}"));
    }
    if spec > ready {
        return in_progress("LessReady", format!("Ready: {ready}/{spec}"));
    }
    if replicas > spec {
        return extra_pods(replicas, spec);
    }
    if partition != -1 {
        let expected = spec.wrapping_sub(partition);
        if updated < expected {
            return in_progress("PartitionRollout", format!("updated: {updated}/{expected}"));
        }
        return current(format!("Partition rollout complete. updated: {updated}"));
    }
    if spec > current_replicas {
        return in_progress("LessCurrent", format!("current: {current_replicas}/{spec}"));
    }
    let current_revision = string_field(obj, "status.currentRevision", "");
    if current_revision != string_field(obj, "status.updateRevision", "") {
        return in_progress(
            "RevisionMismatch",
            "Waiting for updated revision to match current",
        );
    }
    current(format!(
        "All replicas scheduled as expected. Replicas: {replicas}"
    ))
}

fn deployment(obj: &Object, conds: &[Condition<'_>]) -> Readiness {
    // Without progressDeadlineSeconds the controller never sets Progressing (kstatus).
    let no_deadline = i64::from(i32::MAX);
    let mut progressing =
        int_field(obj, "spec.progressDeadlineSeconds", no_deadline) == no_deadline;
    let mut available = false;
    for cond in conds {
        match cond.kind {
            "Progressing" if cond.reason == "ProgressDeadlineExceeded" => {
                let fault = Some(Fault::ProgressDeadlineExceeded);
                return failed(cond.reason, "Progress deadline exceeded", fault);
            }
            "Progressing" if cond.status == "True" && cond.reason == "NewReplicaSetAvailable" => {
                progressing = true;
            }
            "Available" if cond.status == "True" => available = true,
            _ => {}
        }
    }
    let spec = int_field(obj, "spec.replicas", 1);
    let replicas = int_field(obj, "status.replicas", 0);
    let updated = int_field(obj, "status.updatedReplicas", 0);
    let ready = int_field(obj, "status.readyReplicas", 0);
    let available_replicas = int_field(obj, "status.availableReplicas", 0);
    if spec > replicas {
        return in_progress("LessReplicas", format!("Replicas: {replicas}/{spec}"));
    }
    if spec > updated {
        return in_progress("LessUpdated", format!("Updated: {updated}/{spec}"));
    }
    if replicas > spec {
        return extra_pods(replicas, spec);
    }
    if updated > available_replicas {
        return in_progress(
            "LessAvailable",
            format!("Available: {available_replicas}/{updated}"),
        );
    }
    if spec > ready {
        return in_progress("LessReady", format!("Ready: {ready}/{spec}"));
    }
    if !progressing {
        return in_progress("ReplicaSetNotAvailable", "ReplicaSet not Available");
    }
    if !available {
        return in_progress("DeploymentNotAvailable", "Deployment not Available");
    }
    current(format!("Deployment is available. Replicas: {replicas}"))
}

fn replica_set(obj: &Object, conds: &[Condition<'_>]) -> Readiness {
    if find(conds, "ReplicaFailure", "True").is_some() {
        return in_progress("ReplicaFailure", "Replica Failure condition. Check Pods");
    }
    let spec = int_field(obj, "spec.replicas", 1);
    let replicas = int_field(obj, "status.replicas", 0);
    let ready = int_field(obj, "status.readyReplicas", 0);
    let available = int_field(obj, "status.availableReplicas", 0);
    let labelled = int_field(obj, "status.fullyLabeledReplicas", 0);
    if spec > labelled {
        return in_progress("LessLabelled", format!("Labelled: {labelled}/{spec}"));
    }
    if spec > available {
        return in_progress("LessAvailable", format!("Available: {available}/{spec}"));
    }
    if spec > ready {
        return in_progress("LessReady", format!("Ready: {ready}/{spec}"));
    }
    if replicas > spec {
        return extra_pods(replicas, spec);
    }
    current(format!("ReplicaSet is available. Replicas: {replicas}"))
}

fn daemon_set(obj: &Object, kind: &str) -> Outcome {
    // kstatus insists that the controller has set both generations (checkGenerationSet).
    if strict_int(obj, "metadata.generation")?.is_none() {
        return Ok(in_progress(
            "NoGeneration",
            format!("{kind} metadata.generation not found"),
        ));
    }
    if strict_int(obj, "status.observedGeneration")?.is_none() {
        let message = format!("{kind} status.observedGeneration not found");
        return Ok(in_progress("NoObservedGeneration", message));
    }
    let desired = int_field(obj, "status.desiredNumberScheduled", -1);
    let scheduled = int_field(obj, "status.currentNumberScheduled", 0);
    let updated = int_field(obj, "status.updatedNumberScheduled", 0);
    let available = int_field(obj, "status.numberAvailable", 0);
    let ready = int_field(obj, "status.numberReady", 0);
    Ok(if desired == -1 {
        in_progress("NoDesiredNumber", "Missing .status.desiredNumberScheduled")
    } else if desired > scheduled {
        in_progress("LessCurrent", format!("Current: {scheduled}/{desired}"))
    } else if desired > updated {
        in_progress("LessUpdated", format!("Updated: {updated}/{desired}"))
    } else if desired > available {
        in_progress("LessAvailable", format!("Available: {available}/{desired}"))
    } else if desired > ready {
        in_progress("LessReady", format!("Ready: {ready}/{desired}"))
    } else {
        current(format!(
            "All replicas scheduled as expected. Replicas: {desired}"
        ))
    })
}

fn pvc(obj: &Object) -> Readiness {
    match string_field(obj, "status.phase", "unknown") {
        "Bound" => current("PVC is Bound"),
        phase => in_progress("NotBound", format!("PVC is not Bound. phase: {phase}")),
    }
}

fn pod(obj: &Object, conds: &[Condition<'_>], now: Option<i128>) -> Outcome {
    match string_field(obj, "status.phase", "") {
        "Succeeded" => Ok(current("Pod has completed successfully")),
        "Failed" => Ok(current("Pod has completed, but not successfully")),
        "Running" => {
            if find(conds, "Ready", "True").is_some() {
                return Ok(current("Pod is Ready"));
            }
            let fault = container_fault(obj)?;
            Ok(fault.unwrap_or_else(|| {
                in_progress("PodRunningNotReady", "Pod is running but is not Ready")
            }))
        }
        "Pending" => {
            if let Some(fault) = container_fault(obj)? {
                return Ok(fault);
            }
            let scheduled = find(conds, "PodScheduled", "False");
            if scheduled.is_none_or(|c| c.reason != "Unschedulable") {
                return Ok(in_progress("PodPending", "Pod is in the Pending phase"));
            }
            // kstatus reads an unreadable creationTimestamp as the zero time: long ago.
            let created = string_field(obj, "metadata.creationTimestamp", "");
            let created =
                parse_rfc3339(created).map_or(i128::MIN, |secs| i128::from(secs) * 1_000_000_000);
            let expired =
                now.is_some_and(|now| now.saturating_sub(SCHEDULE_WINDOW_NANOS) >= created);
            Ok(if expired {
                failed("PodUnschedulable", "Pod could not be scheduled", None)
            } else {
                in_progress("PodNotScheduled", "Pod has not been scheduled")
            })
        }
        "" => Ok(in_progress("PodNotObserved", "Pod phase not available")),
        phase => Err(format!("unknown phase {phase}")),
    }
}

/// Crash-looping containers first (kstatus), then containers failing to pull their image.
fn container_fault(obj: &Object) -> Result<Option<Readiness>, String> {
    let mut waiting = Vec::new();
    for path in ["status.initContainerStatuses", "status.containerStatuses"] {
        let list = match nested(obj, path)? {
            None => continue,
            Some(Value::Array(list)) => list,
            Some(_) => return Err(format!(".{path} is not a list")),
        };
        for status in list {
            let text = |pointer: &str| status.pointer(pointer).and_then(Value::as_str);
            if let (Some(name), Some(reason)) = (text("/name"), text("/state/waiting/reason")) {
                waiting.push((name, text("/image").unwrap_or(""), reason));
            }
        }
    }
    let crashing: Vec<_> = waiting
        .iter()
        .filter(|w| w.2 == "CrashLoopBackOff")
        .collect();
    if let Some((name, _, _)) = crashing.first() {
        let names: Vec<&str> = crashing.iter().map(|w| w.0).collect();
        let message = format!("Containers in CrashLoop state: {}", names.join(","));
        let fault = Fault::CrashLoopBackOff {
            container: (*name).to_owned(),
        };
        return Ok(Some(failed("ContainerCrashLooping", message, Some(fault))));
    }
    let pull_errors = ["ImagePullBackOff", "ErrImagePull"];
    let pulling: Vec<_> = waiting
        .iter()
        .filter(|w| pull_errors.contains(&w.2))
        .collect();
    if let Some((name, image, reason)) = pulling.first() {
        let list: Vec<String> = pulling
            .iter()
            .map(|w| format!("{} ({}: {})", w.0, w.1, w.2))
            .collect();
        let message = format!("Containers cannot pull their image: {}", list.join(", "));
        let (container, image) = ((*name).to_owned(), (*image).to_owned());
        let fault = Fault::ImagePull {
            container,
            image,
            reason: (*reason).to_owned(),
        };
        return Ok(Some(failed(reason, message, Some(fault))));
    }
    Ok(None)
}

fn job(obj: &Object, conds: &[Condition<'_>]) -> Readiness {
    let parallelism = int_field(obj, "spec.parallelism", 1);
    let completions = int_field(obj, "spec.completions", parallelism);
    let succeeded = int_field(obj, "status.succeeded", 0);
    let active = int_field(obj, "status.active", 0);
    let failures = int_field(obj, "status.failed", 0);
    let suspended = nested(obj, "spec.suspend").ok().flatten() == Some(&Value::Bool(true));
    for cond in conds.iter().filter(|c| c.status == "True") {
        match cond.kind {
            "Complete" => {
                return current(format!(
                    "Job Completed. succeeded: {succeeded}/{completions}"
                ));
            }
            "Failed" => {
                let message = format!("Job Failed. failed: {failures}/{completions}");
                return failed("JobFailed", message, Some(Fault::JobFailed));
            }
            "Suspended" if suspended => return current("Job is suspended"),
            _ => {}
        }
    }
    if string_field(obj, "status.startTime", "").is_empty() {
        return in_progress("JobNotStarted", "Job not started");
    }
    current(format!(
        "Job in progress. success:{succeeded}, active: {active}, failed: {failures}"
    ))
}

fn service(obj: &Object) -> Readiness {
    if string_field(obj, "spec.type", "ClusterIP") != "LoadBalancer" {
        return current("Service is ready");
    }
    if string_field(obj, "spec.clusterIP", "").is_empty() {
        return in_progress(
            "NoIPAssigned",
            "ClusterIP not set. Service type: LoadBalancer",
        );
    }
    // Not in kstatus: a load balancer is usable once it has an ingress point.
    match nested(obj, "status.loadBalancer.ingress") {
        Ok(Some(Value::Array(ingress))) if !ingress.is_empty() => current("Service is ready"),
        _ => in_progress(
            "NoIngressAssigned",
            "LoadBalancer ingress not assigned. Service type: LoadBalancer",
        ),
    }
}

fn crd(conds: &[Condition<'_>]) -> Readiness {
    for cond in conds {
        if cond.kind == "NamesAccepted" && cond.status == "False" {
            return failed(cond.reason, cond.message, None);
        }
        if cond.kind == "Established" {
            if cond.status == "False" && cond.reason != "Installing" {
                return failed(cond.reason, cond.message, None);
            }
            if cond.status == "True" {
                return current("CRD is established");
            }
        }
    }
    in_progress("Installing", "Install in progress")
}

/// Seconds since the Unix epoch of an RFC 3339 time (`2019-06-04T01:17:13Z`, with optional
/// fraction and numeric offset); `None` if malformed.
fn parse_rfc3339(text: &str) -> Option<i64> {
    let fits = |(b, t): (u8, &u8)| b == *t || (*t == b'0' && b.is_ascii_digit());
    if text.len() < 20 || !text.bytes().zip(b"0000-00-00T00:00:00").all(fits) {
        return None;
    }
    let number = |from: usize, to: usize| digits(text.get(from..to)?);
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = text.get(19..)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = fraction.get(digits..)?;
    }
    let offset = match rest.as_bytes() {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (digits(rest.get(1..3)?)?, digits(rest.get(4..6)?)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let secs = hours * 3600 + minutes * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// A non-negative decimal number made of ASCII digits only.
fn digits(text: &str) -> Option<i64> {
    text.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| text.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::{Current, Failed, InProgress, Terminating, Unknown};
    use serde_json::json;
    use std::time::Duration;

    /// `api_version, kind;` then rows `name => status, condition reason, object;`, mostly kstatus'
    /// own fixtures, checked with [`check`].
    macro_rules! cases {
        ($api_version:literal, $kind:literal; $($name:literal => $status:ident, $reason:expr, $object:tt;)*) => {
            check($api_version, $kind, vec![$(($name, json!($object), $status, $reason)),*])
        };
    }

    /// Checks each row's status and reason; objects without `apiVersion` get `api_version`, `kind`.
    fn check(api_version: &str, kind: &str, cases: Vec<(&str, Value, Status, Option<&str>)>) {
        let mut failures = Vec::new();
        for (name, mut object, status, reason) in cases {
            if let Some(map) = object
                .as_object_mut()
                .filter(|map| !map.contains_key("apiVersion"))
            {
                map.insert("apiVersion".into(), json!(api_version));
                map.insert("kind".into(), json!(kind));
            }
            let got = compute(&object);
            if got.status != status || got.reason.as_deref() != reason {
                failures.push(format!("{name}: want {status:?} {reason:?}, got {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    fn failure(reason: &str, message: &str, fault: Fault) -> Readiness {
        let (reason, message) = (Some(reason.to_owned()), message.to_owned());
        Readiness {
            status: Failed,
            reason,
            message,
            fault: Some(fault),
        }
    }

    #[test]
    fn pods() {
        cases! { "v1", "Pod";
            "podNoStatus" => InProgress, Some("PodNotObserved"), {"metadata": {"generation": 1}};
            "podReady" => Current, None, {"metadata": {"generation": 1}, "status": {"conditions": [{"type": "Ready", "status": "True"}], "phase": "Running"}};
            "podCompletedOK" => Current, None, {"metadata": {"generation": 1}, "status": {"phase": "Succeeded",
                "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted"}]}};
            "podCompletedFail" => Current, None, {"metadata": {"generation": 1}, "status": {"phase": "Failed",
                "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted"}]}};
            "podCrashLooping" => Failed, Some("ContainerCrashLooping"), {"metadata": {"generation": 1}, "status": {"phase": "Running",
                "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}], "containerStatuses": [{"name": "nginx",
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}};
            "podRunningNotReady" => InProgress, Some("PodRunningNotReady"), {"metadata": {"generation": 1}, "status": {"phase": "Running"}};
            "podPending" => InProgress, Some("PodPending"), {"status": {"phase": "Pending"}};
            "podReadyWinsOverWaiting" => Current, None, {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "a", "image": "x", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}};
            "podUnknownPhase" => Unknown, None, {"status": {"phase": "Unknown"}};
            "podTerminating" => Terminating, None, {"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}, "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}]}};
        }
    }

    #[test]
    fn pod_scheduling_window() {
        let unschedulable = |created: Option<&str>| {
            let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generation": 1, "name": "test"},
                "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}});
            if let Some(created) = created {
                pod["metadata"]["creationTimestamp"] = json!(created);
            }
            pod
        };
        let created = UNIX_EPOCH + Duration::from_secs(1_559_611_033);
        let being_scheduled = unschedulable(Some("2019-06-04T01:17:13Z"));
        let at = |secs| compute_at(&being_scheduled, created + Duration::from_secs(secs));
        assert_eq!(at(5).reason.as_deref(), Some("PodNotScheduled"));
        assert_eq!(at(5).status, InProgress);
        assert_eq!(at(15).reason.as_deref(), Some("PodUnschedulable"));
        assert_eq!(at(15).status, Failed);
        // Without a clock, compute() stays within kstatus' grace window.
        let pure = compute(&being_scheduled);
        assert_eq!(
            (pure.status, pure.reason.as_deref()),
            (InProgress, Some("PodNotScheduled"))
        );
        // kstatus' podUnschedulable: no creationTimestamp reads as long ago.
        let failed = compute_at(&unschedulable(None), SystemTime::now());
        assert_eq!(
            (failed.status, failed.reason.as_deref()),
            (Failed, Some("PodUnschedulable"))
        );
        assert_eq!(failed.fault, None);
    }

    #[test]
    fn crash_loop_names_the_first_container() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "status": {"phase": "Running", "containerStatuses": [
            {"name": "app", "image": "app:1", "state": {"running": {}}},
            {"name": "sidecar", "image": "envoy:1", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
            {"name": "logger", "image": "fluent:1", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let want = failure(
            "ContainerCrashLooping",
            "Containers in CrashLoop state: sidecar,logger",
            Fault::CrashLoopBackOff {
                container: "sidecar".into(),
            },
        );
        assert_eq!(compute(&pod), want);
    }

    #[test]
    fn image_pull_failures_name_container_and_image() {
        let pod = |phase: &str, key: &str, reason: &str| {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "status": {"phase": phase, key: [
                {"name": "ok", "image": "busybox:1", "state": {"terminated": {"reason": "Completed"}}},
                {"name": "web", "image": "registry.example/web:1.2", "state": {"waiting": {"reason": reason, "message": "Back-off pulling image"}}}]}})
        };
        for (phase, key, reason) in [
            ("Pending", "containerStatuses", "ImagePullBackOff"),
            ("Pending", "initContainerStatuses", "ErrImagePull"),
            ("Running", "containerStatuses", "ErrImagePull"),
        ] {
            let message = format!(
                "Containers cannot pull their image: web (registry.example/web:1.2: {reason})"
            );
            let (container, image) = ("web".to_owned(), "registry.example/web:1.2".to_owned());
            let want = failure(
                reason,
                &message,
                Fault::ImagePull {
                    container,
                    image,
                    reason: reason.into(),
                },
            );
            assert_eq!(compute(&pod(phase, key, reason)), want, "{phase} {key}");
        }
    }

    #[test]
    fn deployment_progress_deadline_exceeded_and_failed_job() {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "generation": 3},
            "spec": {"replicas": 2, "progressDeadlineSeconds": 600}, "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 1,
            "conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}});
        let want = failure(
            "ProgressDeadlineExceeded",
            "Progress deadline exceeded",
            Fault::ProgressDeadlineExceeded,
        );
        assert_eq!(compute(&deployment), want);
        // kstatus' jobFailed fixture.
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "test", "generation": 1}, "spec": {"completions": 4},
            "status": {"succeeded": 3, "failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "JobFailed"}]}});
        let want = failure("JobFailed", "Job Failed. failed: 1/4", Fault::JobFailed);
        assert_eq!(compute(&job), want);
    }

    #[test]
    fn pvcs_and_pdbs() {
        cases! { "v1", "PersistentVolumeClaim";
            "pvcNoStatus" => InProgress, Some("NotBound"), {"metadata": {"generation": 1}};
            "pvcBound" => Current, None, {"metadata": {"generation": 1}, "status": {"phase": "Bound"}};
            "pvcPending" => InProgress, Some("NotBound"), {"status": {"phase": "Pending"}};
            "pdbNotObserved" => InProgress, Some("LatestGenerationNotObserved"), {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
                "metadata": {"generation": 2}, "status": {"observedGeneration": 1}};
            "pdbObserved" => Current, None, {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"generation": 1},
                "status": {"observedGeneration": 1}};
        }
    }

    #[test]
    fn stateful_sets() {
        cases! { "apps/v1", "StatefulSet";
            "stsNoStatus" => InProgress, Some("LessReplicas"), {"metadata": {"generation": 1}};
            "stsBadStatus" => InProgress, Some("LessReplicas"), {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "currentReplicas": 1}};
            "stsOK" => Current, None, {"metadata": {"generation": 1}, "spec": {"replicas": 4}, "status": {"observedGeneration": 1, "currentReplicas": 4,
                "readyReplicas": 4, "replicas": 4}};
            "stsLessReady" => InProgress, Some("LessReady"), {"metadata": {"generation": 1}, "spec": {"replicas": 4}, "status": {"observedGeneration": 1,
                "currentReplicas": 4, "readyReplicas": 2, "replicas": 4}};
            "stsLessCurrent" => InProgress, Some("LessCurrent"), {"metadata": {"generation": 1}, "spec": {"replicas": 4}, "status": {"observedGeneration": 1,
                "currentReplicas": 2, "readyReplicas": 4, "replicas": 4}};
            "stsExtraPods" => InProgress, Some("ExtraPods"), {"metadata": {"generation": 1}, "spec": {"replicas": 4}, "status": {"observedGeneration": 1,
                "currentReplicas": 4, "readyReplicas": 4, "replicas": 8}};
            "stsOnDelete" => Current, None, {"spec": {"replicas": 4, "updateStrategy": {"type": "OnDelete"}}};
            "stsPartitionRollout" => InProgress, Some("PartitionRollout"), {"spec": {"replicas": 4,
                "updateStrategy": {"type": "RollingUpdate",
                "rollingUpdate": {"partition": 2}}}, "status": {"replicas": 4, "readyReplicas": 4, "currentReplicas": 3, "updatedReplicas": 1}};
            "stsPartitionDone" => Current, None, {"spec": {"replicas": 4, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}},
                "status": {"replicas": 4, "readyReplicas": 4, "currentReplicas": 2, "updatedReplicas": 2, "currentRevision": "a", "updateRevision": "b"}};
            "stsRevisionMismatch" => InProgress, Some("RevisionMismatch"), {"spec": {"replicas": 2}, "status": {"replicas": 2, "readyReplicas": 2,
                "currentReplicas": 2, "updatedReplicas": 2, "currentRevision": "web-1", "updateRevision": "web-2"}};
        }
    }

    #[test]
    fn daemon_sets() {
        cases! { "apps/v1", "DaemonSet";
            "dsNoStatus" => InProgress, Some("NoObservedGeneration"), {"metadata": {"generation": 1}};
            "dsBadStatus" => InProgress, Some("NoDesiredNumber"), {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "currentReplicas": 1}};
            "dsOK" => Current, None, {"metadata": {"generation": 1}, "status": {"desiredNumberScheduled": 4, "currentNumberScheduled": 4,
                "updatedNumberScheduled": 4, "numberAvailable": 4, "numberReady": 4, "observedGeneration": 1}};
            "dsDifferentGeneration" => InProgress, Some("LatestGenerationNotObserved"), {"metadata": {"generation": 2}, "status": {"desiredNumberScheduled": 4,
                "currentNumberScheduled": 4, "updatedNumberScheduled": 4, "numberAvailable": 4, "numberReady": 4, "observedGeneration": 1}};
            "dsLessReady" => InProgress, Some("LessReady"), {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 4,
                "currentNumberScheduled": 4, "updatedNumberScheduled": 4, "numberAvailable": 4, "numberReady": 2}};
            "dsLessAvailable" => InProgress, Some("LessAvailable"), {"metadata": {"generation": 1}, "status": {"observedGeneration": 1,
                "desiredNumberScheduled": 4, "currentNumberScheduled": 4, "updatedNumberScheduled": 4, "numberAvailable": 2, "numberReady": 4}};
            "dsNoGeneration" => InProgress, Some("NoGeneration"), {"status": {"observedGeneration": 1}};
            "dsLessUpdated" => InProgress, Some("LessUpdated"), {"apiVersion": "extensions/v1beta1", "kind": "DaemonSet", "metadata": {"generation": 1},
                "status": {"observedGeneration": 1, "desiredNumberScheduled": 4, "currentNumberScheduled": 4, "updatedNumberScheduled": 3}};
            "dsLessCurrent" => InProgress, Some("LessCurrent"), {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 4,
                "currentNumberScheduled": 3}};
        }
    }

    #[test]
    fn deployments() {
        cases! { "apps/v1", "Deployment";
            "depNoStatus" => InProgress, Some("LessReplicas"), {"metadata": {"generation": 1}};
            "depOK" => Current, None, {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "updatedReplicas": 1, "readyReplicas": 1,
                "availableReplicas": 1, "replicas": 1, "conditions": [{"type": "Progressing", "status": "True",
                "reason": "NewReplicaSetAvailable"}, {"type": "Available", "status": "True"}]}};
            "depNotProgressing" => InProgress, Some("ReplicaSetNotAvailable"), {"metadata": {"generation": 1}, "spec": {"progressDeadlineSeconds": 45},
                "status": {"observedGeneration": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1, "replicas": 1,
                "conditions": [{"type": "Progressing", "status": "False", "reason": "Some reason"}, {"type": "Available", "status": "True"}]}};
            "depNoProgressDeadlineSeconds" => Current, None, {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "updatedReplicas": 1,
                "readyReplicas": 1, "availableReplicas": 1, "replicas": 1, "conditions": [{"type": "Available", "status": "True"}]}};
            "depNotAvailable" => InProgress, Some("DeploymentNotAvailable"), {"metadata": {"generation": 1}, "status": {"observedGeneration": 1,
                "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1, "replicas": 1, "conditions": [{"type": "Progressing", "status": "True",
                "reason": "NewReplicaSetAvailable"}, {"type": "Available", "status": "False"}]}};
            "depLessUpdated" => InProgress, Some("LessUpdated"), {"spec": {"replicas": 3}, "status": {"replicas": 3, "updatedReplicas": 1}};
            "depExtraPods" => InProgress, Some("ExtraPods"), {"spec": {"replicas": 3}, "status": {"replicas": 4, "updatedReplicas": 3}};
            "depLessAvailable" => InProgress, Some("LessAvailable"), {"apiVersion": "extensions/v1beta1", "kind": "Deployment", "spec": {"replicas": 3},
                "status": {"replicas": 3, "updatedReplicas": 3, "availableReplicas": 2}};
            "depLessReady" => InProgress, Some("LessReady"), {"spec": {"replicas": 3}, "status": {"replicas": 3, "updatedReplicas": 3, "availableReplicas": 3,
                "readyReplicas": 1}};
        }
    }

    #[test]
    fn replica_sets() {
        cases! { "apps/v1", "ReplicaSet";
            "rsNoStatus" => InProgress, Some("LessLabelled"), {"metadata": {"generation": 1}};
            "rsLessReady" => InProgress, Some("LessReady"), {"metadata": {"generation": 1}, "spec": {"replicas": 4}, "status": {"observedGeneration": 1,
                "replicas": 4, "readyReplicas": 2, "availableReplicas": 4, "fullyLabeledReplicas": 4}};
            "rsLessAvailable" => InProgress, Some("LessAvailable"), {"metadata": {"generation": 1}, "spec": {"replicas": 4}, "status": {"observedGeneration": 1,
                "replicas": 4, "readyReplicas": 4, "availableReplicas": 2, "fullyLabeledReplicas": 4}};
            "rsReplicaFailure" => InProgress, Some("ReplicaFailure"), {"metadata": {"generation": 1}, "spec": {"replicas": 4}, "status": {"observedGeneration": 1,
                "replicas": 4, "readyReplicas": 4, "fullyLabeledReplicas": 4, "availableReplicas": 4, "conditions": [{"type": "ReplicaFailure", "status": "True"}]}};
            "rsExtraPods" => InProgress, Some("ExtraPods"), {"spec": {"replicas": 1}, "status": {"replicas": 2, "readyReplicas": 1, "availableReplicas": 1,
                "fullyLabeledReplicas": 1}};
        }
    }

    #[test]
    fn jobs() {
        cases! { "batch/v1", "Job";
            "jobNoStatus" => InProgress, Some("JobNotStarted"), {"metadata": {"generation": 1}};
            "jobComplete" => Current, None, {"metadata": {"generation": 1}, "status": {"succeeded": 1, "active": 0,
                "conditions": [{"type": "Complete", "status": "True"}]}};
            "jobFailed" => Failed, Some("JobFailed"), {"metadata": {"generation": 1}, "spec": {"completions": 4}, "status": {"succeeded": 3, "failed": 1,
                "conditions": [{"type": "Failed", "status": "True", "reason": "JobFailed"}]}};
            "jobInProgress" => Current, None, {"metadata": {"generation": 1}, "spec": {"completions": 10, "parallelism": 2},
                "status": {"startTime": "2019-06-04T01:17:13Z", "succeeded": 3, "failed": 1, "active": 2,
                "conditions": [{"type": "Failed", "status": "False"}, {"type": "Complete", "status": "False"}]}};
            "suspendedJob" => Current, None, {"metadata": {"generation": 1}, "spec": {"suspend": true},
                "status": {"conditions": [{"type": "Suspended", "status": "True"}]}};
            "previouslySuspendedJob" => InProgress, Some("JobNotStarted"), {"metadata": {"generation": 1}, "spec": {"suspend": false},
                "status": {"conditions": [{"type": "Suspended", "status": "False"}]}};
            "toSuspendedJob" => InProgress, Some("JobNotStarted"), {"metadata": {"generation": 1}, "spec": {"suspend": true},
                "status": {"conditions": [{"type": "Suspended", "status": "False"}]}};
            "fromSuspendedJob" => InProgress, Some("JobNotStarted"), {"metadata": {"generation": 1}, "spec": {"suspend": false},
                "status": {"conditions": [{"type": "Suspended", "status": "True"}]}};
        }
    }

    #[test]
    fn services_and_always_ready_kinds() {
        cases! { "v1", "Service";
            "serviceDefault" => Current, None, {"metadata": {"generation": 1}};
            "serviceNodePort" => Current, None, {"metadata": {"generation": 1}, "spec": {"type": "NodePort"}};
            "serviceLBnok" => InProgress, Some("NoIPAssigned"), {"metadata": {"generation": 1}, "spec": {"type": "LoadBalancer"}};
            // kstatus' serviceLBok is Current; Flotilla also waits for an ingress point.
            "serviceLBok" => InProgress, Some("NoIngressAssigned"), {"metadata": {"generation": 1}, "spec": {"type": "LoadBalancer", "clusterIP": "1.2.3.4"}};
            "serviceLBingress" => Current, None, {"spec": {"type": "LoadBalancer", "clusterIP": "1.2.3.4"},
                "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}};
            "serviceLBemptyIngress" => InProgress, Some("NoIngressAssigned"), {"spec": {"type": "LoadBalancer", "clusterIP": "1.2.3.4"},
                "status": {"loadBalancer": {"ingress": []}}};
            "cronjobNoStatus" => Current, None, {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"generation": 1}};
            "cronjobWithStatus" => Current, None, {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"generation": 1}, "status": null};
            "secret" => Current, None, {"apiVersion": "v1", "kind": "Secret", "data": {}};
            "configMapEvenIfReadyFalse" => Current, None, {"apiVersion": "v1", "kind": "ConfigMap",
                "status": {"conditions": [{"type": "Ready", "status": "False"}]}};
        }
    }

    #[test]
    fn custom_resources_and_crds() {
        cases! { "apiextensions.k8s.io/v1", "CustomResourceDefinition";
            "crdNoStatus" => Current, None, {"apiVersion": "something/v1", "kind": "MyCR", "metadata": {"generation": 1}};
            "crdMismatchStatusGeneration" => InProgress, Some("LatestGenerationNotObserved"), {"apiVersion": "something/v1", "kind": "MyCR",
                "metadata": {"generation": 2}, "status": {"observedGeneration": 1}};
            "crdReady" => Current, None, {"apiVersion": "something/v1", "kind": "MyCR", "metadata": {"generation": 1},
                "status": {"conditions": [{"type": "Ready", "status": "True", "message": "All looks ok", "reason": "AllOk"}]}};
            "crdNotReady" => InProgress, Some("NotReadyYet"), {"apiVersion": "something/v1", "kind": "MyCR", "metadata": {"generation": 1},
                "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False", "reason": "NotReadyYet"}]}};
            "crdNoCondition" => Current, None, {"apiVersion": "something/v1", "kind": "MyCR", "metadata": {"generation": 1},
                "status": {"conditions": [{"type": "SomeCondition", "status": "False"}]}};
            "crReadyUnknown" => InProgress, Some("Pending"), {"apiVersion": "something/v1", "kind": "MyCR",
                "status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "Pending"}]}};
            "crReconciling" => InProgress, Some("Progressing"), {"apiVersion": "something/v1", "kind": "MyCR",
                "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Reconciling", "status": "True", "reason": "Progressing"}]}};
            "crStalled" => Failed, Some("Broken"), {"apiVersion": "apps/v1", "kind": "Deployment",
                "status": {"conditions": [{"type": "Stalled", "status": "True", "reason": "Broken"}]}};
            "crdNoConditions" => InProgress, Some("Installing"), {"metadata": {"generation": 1}};
            "crdInstalling" => InProgress, Some("Installing"), {"metadata": {"generation": 1},
                "status": {"conditions": [{"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"}, {"type": "Established", "status": "False", "reason": "Installing"}]}};
            "crdNamesNotAccepted" => Failed, Some("SomeReason"), {"metadata": {"generation": 1},
                "status": {"conditions": [{"type": "NamesAccepted", "status": "False", "reason": "SomeReason"}]}};
            "crdEstablished" => Current, None, {"metadata": {"generation": 1},
                "status": {"conditions": [{"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"}, {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}]}};
            "crdNotEstablished" => Failed, Some("Broken"), {"status": {"conditions": [{"type": "Established", "status": "False", "reason": "Broken"}]}};
        }
    }

    #[test]
    fn malformed_shapes_are_unknown_as_kstatus_errors() {
        cases! { "v1", "Pod";
            "conditionsNotAList" => Unknown, None, {"apiVersion": "v1", "kind": "ConfigMap", "status": {"conditions": {"type": "Ready"}}};
            "conditionStatusNotAString" => Unknown, None, {"apiVersion": "x/v1", "kind": "W", "status": {"conditions": [{"type": "Ready", "status": true}]}};
            "statusNotAnObject" => Unknown, None, {"apiVersion": "v1", "kind": "Secret", "status": "ok"};
            "generationNotAnInteger" => Unknown, None, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": "1"}};
            "deletionTimestampNotAString" => Unknown, None, {"metadata": {"deletionTimestamp": 5}};
            "terminatingBeforeConditions" => Terminating, None, {"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}, "status": {"conditions": 3}};
            "containerStatusesNotAList" => Unknown, None, {"status": {"phase": "Running", "containerStatuses": {"name": "a"}}};
            "notAnObject" => Unknown, None, ["apiVersion", "v1"];
        }
    }

    #[test]
    fn messages_follow_kstatus() {
        let message = |object: Value| compute(&object).message;
        let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 2}, "status": {"observedGeneration": 1}});
        assert_eq!(
            message(ds),
            "DaemonSet generation is 2, but latest observed generation is 1"
        );
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"replicas": 4}, "status": {"replicas": 4, "readyReplicas": 2}});
        assert_eq!(message(sts), "Ready: 2/4");
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Unknown"}});
        assert_eq!(message(pod), "unknown phase Unknown");
    }

    #[test]
    fn rfc3339_timestamps() {
        assert_eq!(parse_rfc3339("2019-06-04T01:17:13Z"), Some(1_559_611_033));
        assert_eq!(parse_rfc3339("2000-02-29T23:59:59.123Z"), Some(951_868_799));
        assert_eq!(
            parse_rfc3339("2019-06-04T03:17:13+02:00"),
            Some(1_559_611_033)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:00:00Z"), Some(-3600));
        let bad = "|2019-06-04|2019-06-04T01:17:13|2019-13-04T01:17:13Z|2019-06-04T01:17:13+2:00|2019-06-04T01:17:13.Z|2019-06-04T01:17:1éZ";
        for bad in bad.split('|') {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn odd_values_anywhere_never_panic() {
        let odd = json!([null, true, i64::MIN, i64::MAX, u64::MAX, 1.5, "x", [], {}, [null, 7, {"state": 1}]]);
        let kinds = "v1/Pod v1/Service v1/PersistentVolumeClaim apps/v1/StatefulSet apps/v1/DaemonSet apps/v1/Deployment \
            apps/v1/ReplicaSet batch/v1/Job apiextensions.k8s.io/v1/CustomResourceDefinition example.com/v1/Widget";
        let paths = "/metadata /metadata/generation /metadata/creationTimestamp /spec /spec/replicas /spec/type \
            /spec/updateStrategy/rollingUpdate/partition /status /status/phase /status/replicas /status/observedGeneration \
            /status/conditions /status/conditions/0 /status/conditions/0/status /status/containerStatuses /status/containerStatuses/0/state";
        let mut unknown = 0;
        for kind in kinds.split_whitespace() {
            let (api_version, kind) = kind.rsplit_once('/').expect("kind");
            let base = json!({"apiVersion": api_version, "kind": kind, "metadata": {"generation": 1, "creationTimestamp": "2019-06-04T01:17:13Z"},
                "spec": {"replicas": 1, "type": "LoadBalancer", "updateStrategy": {"rollingUpdate": {"partition": 0}}},
                "status": {"phase": "Pending", "observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "currentReplicas": 1,
                    "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
                    "containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "ErrImagePull"}}}]}});
            for path in paths.split_whitespace() {
                for value in odd.as_array().expect("array") {
                    let mut object = base.clone();
                    *object.pointer_mut(path).expect(path) = value.clone();
                    let got = compute_at(&object, SystemTime::now());
                    assert_ne!(got.status, Status::NotFound);
                    if got.status == Unknown {
                        unknown += 1;
                        assert!(
                            got.reason.is_none() && got.fault.is_none() && !got.message.is_empty(),
                            "{got:?}"
                        );
                    }
                    assert!(
                        got.fault.is_none() || got.status == Failed,
                        "{path} {value}: {got:?}"
                    );
                }
            }
        }
        assert!(unknown > 0, "malformed shapes must surface as Unknown");
    }
}
