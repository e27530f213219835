//! Messages out: announcements of deployments to production environments (the on-call
//! channel's Slack-compatible webhook), stuck deployments (the service's channel) and pages
//! (PagerDuty's Events API v2). Queued (bounded) and delivered by a task of their own with
//! retries and backoff: delivery never blocks the loop or a request; failures are counted.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use plan::Digest;
use tokio::sync::mpsc;

use crate::metrics::Metrics;

/// How many announcements may wait; more are dropped (and counted as failed).
const QUEUE: usize = 256;
/// Attempts per announcement, and the first backoff (doubled after each failure).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// A deployment scheduled to a production environment.
#[derive(Debug, Clone)]
pub struct Announcement {
    pub service: String,
    pub label: String,
    pub digest: Digest,
    pub chart: String,
    pub environment: String,
    pub clusters: usize,
    pub principal: String,
    pub ci_job: Option<String>,
    pub reason: String,
}

impl Announcement {
    /// The Slack message.
    pub fn payload(&self) -> serde_json::Value {
        let mut text = format!(
            ":rocket: *{}* {} `{}` ({}) scheduled to *{}* ({} {}) by {}",
            self.service,
            self.label,
            self.digest.short(),
            if self.chart.is_empty() {
                "chart unknown"
            } else {
                &self.chart
            },
            self.environment,
            self.clusters,
            if self.clusters == 1 {
                "cluster"
            } else {
                "clusters"
            },
            self.principal,
        );
        if self.reason == "rollback" {
            text.push_str(" (rollback)");
        }
        if let Some(ci) = &self.ci_job {
            text.push_str(&format!(" — CI: {ci}"));
        }
        serde_json::json!({
            "text": text,
            "flotilla": {
                "service": self.service,
                "version": self.label,
                "digest": self.digest.to_string(),
                "chart": self.chart,
                "environment": self.environment,
                "clusters": self.clusters,
                "principal": self.principal,
                "ciJob": self.ci_job,
                "reason": self.reason,
            }
        })
    }
}

/// One message to post.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub url: String,
    pub body: serde_json::Value,
    /// What it is, for the log (`announcement of web to prod`).
    pub what: String,
}

/// The queue to the delivering task.
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Outgoing>,
    /// The on-call channel's webhook (announcements), if any.
    slack: Option<String>,
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// Starts the delivering task (on the current runtime).
    pub fn start(webhook: Option<String>, metrics: Arc<Metrics>) -> Notifier {
        let (tx, mut rx) = mpsc::channel::<Outgoing>(QUEUE);
        let counters = Arc::clone(&metrics);
        tokio::spawn(async move {
            let client = crate::http_client(Duration::from_secs(10));
            while let Some(m) = rx.recv().await {
                let mut backoff = FIRST_BACKOFF;
                let mut sent = false;
                for attempt in 1..=ATTEMPTS {
                    match client.post(&m.url).json(&m.body).send().await {
                        Ok(r) if r.status().is_success() => {
                            sent = true;
                            break;
                        }
                        Ok(r) => eprintln!(
                            "flotilla serve: {}: the receiver answered {} (attempt {attempt})",
                            m.what,
                            r.status()
                        ),
                        Err(e) => eprintln!("flotilla serve: {}: {e} (attempt {attempt})", m.what),
                    }
                    if attempt < ATTEMPTS {
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                    }
                }
                let counter = if sent {
                    &counters.notifications_sent
                } else {
                    &counters.notifications_failed
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        Notifier {
            tx,
            slack: webhook,
            metrics,
        }
    }

    /// Queues an announcement to the on-call channel (nothing without one); never waits.
    pub fn announce(&self, a: Announcement) {
        let Some(url) = &self.slack else {
            return;
        };
        self.send(Outgoing {
            url: url.clone(),
            body: a.payload(),
            what: format!("announcement of {} to {}", a.service, a.environment),
        });
    }

    /// Queues a message; never waits. False when the queue is full (counted as failed).
    pub fn send(&self, m: Outgoing) -> bool {
        if self.tx.try_send(m).is_err() {
            self.metrics
                .notifications_failed
                .fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// The on-call channel's webhook.
    pub fn on_call(&self) -> Option<&str> {
        self.slack.as_deref()
    }
}
