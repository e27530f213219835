//! Announcements of deployments to production environments, posted to a Slack-compatible
//! incoming webhook. Queued (bounded) and delivered by a task of their own with retries and
//! backoff: delivery never blocks the loop or a request; failures are counted.

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

/// The queue to the delivering task (nothing is sent without a webhook).
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: Option<mpsc::Sender<Announcement>>,
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// Starts the delivering task (on the current runtime) when there is a webhook.
    pub fn start(webhook: Option<String>, metrics: Arc<Metrics>) -> Notifier {
        let Some(url) = webhook else {
            return Notifier { tx: None, metrics };
        };
        let (tx, mut rx) = mpsc::channel::<Announcement>(QUEUE);
        let m = Arc::clone(&metrics);
        tokio::spawn(async move {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = match reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
            {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("flotilla serve: notifications disabled: {e}");
                    return;
                }
            };
            while let Some(a) = rx.recv().await {
                let body = a.payload();
                let mut backoff = FIRST_BACKOFF;
                let mut sent = false;
                for attempt in 1..=ATTEMPTS {
                    match client.post(&url).json(&body).send().await {
                        Ok(r) if r.status().is_success() => {
                            sent = true;
                            break;
                        }
                        Ok(r) => eprintln!(
                            "flotilla serve: announcement of {} to {}: webhook answered {} (attempt {attempt})",
                            a.service,
                            a.environment,
                            r.status()
                        ),
                        Err(e) => eprintln!(
                            "flotilla serve: announcement of {} to {}: {e} (attempt {attempt})",
                            a.service, a.environment
                        ),
                    }
                    if attempt < ATTEMPTS {
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                    }
                }
                let counter = if sent {
                    &m.notifications_sent
                } else {
                    &m.notifications_failed
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        Notifier {
            tx: Some(tx),
            metrics,
        }
    }

    /// Queues an announcement; never waits.
    pub fn announce(&self, a: Announcement) {
        if let Some(tx) = &self.tx
            && tx.try_send(a).is_err()
        {
            self.metrics
                .notifications_failed
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}
