//! One delivery attempt: build the request, send it, read a bounded part of
//! the answer, journal the attempt, and schedule what follows (the
//! receiver's answer for its provider, a retry, held callbacks released).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use super::allowlist::{refused, Destination};
use super::engine::Stats;
use super::{journal_unsent, release_held, CallbackJob, Reply};
use crate::clock::after_ms_u64;
use crate::journal::{CallbackAttempt, DeliveryOutcome};
use crate::store::{Event, Tenant};

/// What the receiver did with one attempt.
struct Answer {
    status: Option<u16>,
    body: Option<String>,
    error: Option<String>,
}

impl Answer {
    fn delivered(&self) -> bool {
        matches!(self.status, Some(s) if (200..300).contains(&s)) && self.error.is_none()
    }
}

/// Makes one attempt; returns the held callbacks this attempt releases.
pub(super) async fn deliver(
    client: &reqwest::Client,
    stats: &Stats,
    capture: usize,
    allow: &[Destination],
    tenant: Arc<Tenant>,
    job: CallbackJob,
) -> Vec<CallbackJob> {
    if let Some(why) = refused(allow, &job.url).await {
        stats.failed.fetch_add(1, Ordering::Relaxed);
        journal_unsent(&tenant, &job, DeliveryOutcome::Refused, &why);
        return tenant.with_core(|core| release_held(core, &job.correlation_id));
    }
    let at = tenant.now();
    let started = Instant::now();
    let answer = send(client, capture, &tenant, &job, at).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let delivered = answer.delivered();
    let outcome = if delivered { DeliveryOutcome::Delivered } else { DeliveryOutcome::Failed };
    let counter = if delivered { &stats.delivered } else { &stats.failed };
    counter.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(
        callback_id = %job.id,
        kind = job.kind,
        attempt = job.attempt,
        status = answer.status.unwrap_or(0),
        latency_ms,
        outcome = ?outcome,
        "callback attempt"
    );
    let mut attempt_seq = 0;
    let answered = (answer.status, answer.body.clone(), answer.error.clone());
    tenant.journal.record_callback(|seq| {
        attempt_seq = seq;
        CallbackAttempt {
            status: answer.status,
            latency_ms: Some(latency_ms),
            error: answer.error,
            response_body: answer.body,
            ..job.attempt_record(seq, at, outcome)
        }
    });
    let reply = job.reply_to.clone().map(|reply_to| {
        let (status, body, error) = answered;
        (reply_to, Reply { status, body: body.unwrap_or_default(), error, attempt_seq })
    });
    if let Some((reply_to, reply)) = reply {
        // The answer is acted on at the time of the attempt, by the owning provider.
        tenant.with_core(|core| core.timeline.schedule(at, Event::Reply { reply_to, reply }));
    }
    // Callbacks held back to arrive out of order go out once another
    // transaction's callback has been delivered (or has failed).
    let released = tenant.with_core(|core| release_held(core, &job.correlation_id));
    if !delivered {
        schedule_retry(stats, &tenant, job, at);
    }
    released
}

/// Sends the request and reads at most `capture` bytes of the answer.
async fn send(
    client: &reqwest::Client,
    capture: usize,
    tenant: &Tenant,
    job: &CallbackJob,
    at: DateTime<Utc>,
) -> Answer {
    let body = job.body.as_bytes().to_vec();
    let mut request =
        client.request(job.method.clone(), &job.url).header(reqwest::header::CONTENT_TYPE, job.body.content_type());
    for (name, value) in job.headers.iter() {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(ms) = job.timeout_ms {
        request = request.timeout(Duration::from_millis(ms));
    }
    if let Some(secret) = tenant.with_core(|core| core.signing_secret.clone()) {
        let timestamp = at.timestamp();
        let signature = crate::crypto::webhook::sign(secret.expose_secret(), &job.id, timestamp, &body);
        request = request
            .header("webhook-id", &job.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
    }
    match request.body(body).send().await {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let mut captured = Vec::new();
            let mut error = None;
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = capture.saturating_sub(captured.len());
                        captured.extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or_default());
                        if captured.len() >= capture {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        error = Some(error_chain(&e));
                        break;
                    }
                }
            }
            Answer { status: Some(status), body: Some(String::from_utf8_lossy(&captured).into_owned()), error }
        }
        Err(e) => Answer { status: None, body: None, error: Some(error_chain(&e)) },
    }
}

/// Puts the next attempt of a failed job on the tenant's timeline, if its
/// script has one left.
fn schedule_retry(stats: &Stats, tenant: &Tenant, job: CallbackJob, at: DateTime<Utc>) {
    let index = usize::try_from(job.attempt.saturating_sub(1)).unwrap_or(usize::MAX);
    let Some(delay) = job.retry_delays_ms.get(index).copied() else { return };
    stats.retries_scheduled.fetch_add(1, Ordering::Relaxed);
    let retry = CallbackJob { attempt: job.attempt.saturating_add(1), ..job };
    tenant.with_core(|core| core.timeline.schedule(after_ms_u64(at, delay), Event::Deliver(retry)));
}

/// "connection refused" rather than reqwest's outer "error sending request".
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
