//! A circuit breaker per callback destination, so a receiver that does not
//! answer costs its own callbacks and never the latency of the requests
//! that produce them.
//!
//! Without it, every attempt to a refusing receiver costs a connection, and
//! every attempt to a hanging one holds a delivery slot for the whole
//! timeout; the tenant's lane backs up and admission holds the tenant's
//! requests until the failures drain. With it, once a destination (scheme,
//! host and port) has left `failures` attempts in a row unanswered (refused,
//! reset, timed out), or has had that many attempts in flight and answered
//! none of them for `window` while its tenant's lane is backed up (a live
//! receiver slow to answer a burst is waited for), its circuit opens:
//! attempts fail at once,
//! without a connection, journaled as failed with the reason, and are
//! retried as their script says. After `window` one attempt goes through
//! (half-open); if it is answered the circuit closes, otherwise it opens
//! again.
//!
//! A receiver that answers, whatever its status and however slowly, is
//! alive: only unanswered attempts count, so retries against a receiver
//! that answers 500 reach it every time. Virtual-clock lanes never consult
//! the breaker (their journal must not depend on real time).
//!
//! Invariants: the map holds only destinations with attempts in flight or
//! a failure not yet forgiven, at most [`MAX_TRACKED`] of them (callback
//! URLs come from clients, so it is keyed with the standard library's
//! randomly seeded hasher); every admitted attempt is finished exactly once
//! ([`Attempt`] finishes on drop, so a panicking delivery frees its count).

use crate::fastmap::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Destinations tracked at once; beyond it, healthy idle ones are forgotten first.
const MAX_TRACKED: usize = 10_000;

/// The breaker's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Unanswered attempts in a row (or attempts in flight with no answer
    /// for `window`) that open a destination's circuit; 0 turns it off.
    pub failures: u32,
    /// How long a circuit stays open before one attempt probes again, and
    /// how long a destination may leave all its attempts unanswered.
    pub window: Duration,
}

/// One destination's state.
#[derive(Debug)]
struct Circuit {
    in_flight: usize,
    /// Unanswered attempts in a row.
    failures: u32,
    /// The last answer, or when the destination last became busy.
    answered_at: Instant,
    open_until: Option<Instant>,
    /// A half-open probe is in flight.
    probing: bool,
    last_error: Arc<str>,
}

impl Circuit {
    fn new(now: Instant) -> Circuit {
        Circuit {
            in_flight: 0,
            failures: 0,
            answered_at: now,
            open_until: None,
            probing: false,
            last_error: Arc::from(""),
        }
    }

    /// Healthy and idle: nothing to remember.
    fn forgettable(&self) -> bool {
        self.in_flight == 0 && self.failures == 0 && self.open_until.is_none()
    }
}

#[derive(Debug)]
pub(super) struct Breakers {
    config: BreakerConfig,
    circuits: Mutex<HashMap<Box<str>, Circuit>>,
}

/// An attempt the breaker let through; finish it with its result (dropping
/// it unfinished counts as unanswered).
pub(crate) struct Attempt {
    breakers: Arc<Breakers>,
    key: Option<Box<str>>,
}

impl Attempt {
    /// Records whether the receiver answered (any status) and, if not, why.
    pub(super) fn finish(mut self, answered: bool, error: Option<&str>) {
        if let Some(key) = self.key.take() {
            self.breakers.finish(&key, Some((answered, error)));
        }
    }

    /// The attempt was never made (the allowlist refused it): it says
    /// nothing about the destination.
    pub(super) fn forget(mut self) {
        if let Some(key) = self.key.take() {
            self.breakers.finish(&key, None);
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.breakers.finish(&key, Some((false, Some("the delivery did not finish"))));
        }
    }
}

/// The destination of a callback URL: its scheme and authority
/// (`http://127.0.0.1:9`), without parsing the rest. Read byte by byte:
/// `str::find` with a string or a set of characters sets up a searcher that
/// cost more than the few bytes of a URL it reads (about 600 instructions
/// per call; every delivery calls this twice).
fn destination(url: &str) -> &str {
    let bytes = url.as_bytes();
    let rest_at = bytes.windows(3).position(|w| w == b"://").map_or(0, |i| i.saturating_add(3));
    let rest = bytes.get(rest_at..).unwrap_or_default();
    let end =
        rest.iter().position(|b| matches!(b, b'/' | b'?' | b'#')).map_or(url.len(), |i| rest_at.saturating_add(i));
    url.get(..end).unwrap_or(url)
}

impl Breakers {
    pub(super) fn new(config: BreakerConfig) -> Breakers {
        Breakers { config, circuits: Mutex::new(HashMap::default()) }
    }

    fn circuits(&self) -> MutexGuard<'_, HashMap<Box<str>, Circuit>> {
        self.circuits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Why an attempt to `url` must fail at once, if it must; `backed_up`
    /// says whether waiting for the destination would hold requests.
    pub(super) fn check(&self, url: &str, backed_up: bool) -> Option<String> {
        if self.config.failures == 0 {
            return None;
        }
        let circuits = self.circuits();
        let key = destination(url);
        self.refusal(key, circuits.get(key)?, Instant::now(), backed_up)
    }

    /// A silent destination is only cut off when waiting for it would hold
    /// requests: a live receiver slow to answer a burst is waited for.
    fn refusal(&self, key: &str, circuit: &Circuit, now: Instant, backed_up: bool) -> Option<String> {
        let window = self.config.window;
        match circuit.open_until {
            Some(until) if now < until => Some(format!(
                "not sent: {key} left {} attempts in a row unanswered (the last: {}); its circuit is open for {} ms",
                circuit.failures,
                circuit.last_error,
                window.as_millis()
            )),
            Some(_) if circuit.probing => Some(format!(
                "not sent: {key} left {} attempts in a row unanswered (the last: {}); one attempt is probing it",
                circuit.failures, circuit.last_error
            )),
            Some(_) => None,
            None => {
                let threshold = usize::try_from(self.config.failures).unwrap_or(usize::MAX);
                let silent = now.saturating_duration_since(circuit.answered_at);
                (backed_up && circuit.in_flight >= threshold && silent >= window).then(|| {
                    format!(
                        "not sent: {key} has answered none of its {} attempts in flight for {} ms",
                        circuit.in_flight,
                        silent.as_millis()
                    )
                })
            }
        }
    }

    /// Lets an attempt to `url` go out (`None` when the breaker is off), or
    /// says why it must fail at once.
    pub(super) fn admit(self: &Arc<Self>, url: &str, backed_up: bool) -> Result<Option<Attempt>, String> {
        if self.config.failures == 0 {
            return Ok(None);
        }
        let key = destination(url);
        let now = Instant::now();
        let mut circuits = self.circuits();
        if !circuits.contains_key(key) {
            if circuits.len() >= MAX_TRACKED {
                circuits.retain(|_, c| !c.forgettable());
            }
            if circuits.len() >= MAX_TRACKED {
                // Too many failing destinations to track: this one goes
                // through unguarded rather than evicting one that is failing.
                return Ok(None);
            }
            circuits.insert(Box::from(key), Circuit::new(now));
        }
        let Some(circuit) = circuits.get_mut(key) else { return Ok(None) };
        if let Some(why) = self.refusal(key, circuit, now, backed_up) {
            return Err(why);
        }
        if circuit.open_until.is_some() {
            circuit.probing = true;
        }
        if circuit.in_flight == 0 {
            circuit.answered_at = now;
        }
        circuit.in_flight = circuit.in_flight.saturating_add(1);
        Ok(Some(Attempt { breakers: self.clone(), key: Some(Box::from(key)) }))
    }

    /// Ends an attempt: `None` when it was never made.
    fn finish(&self, key: &str, result: Option<(bool, Option<&str>)>) {
        let now = Instant::now();
        let mut circuits = self.circuits();
        let Some(circuit) = circuits.get_mut(key) else { return };
        circuit.in_flight = circuit.in_flight.saturating_sub(1);
        match result {
            None => {
                if circuit.probing {
                    circuit.probing = false;
                }
            }
            Some((true, _)) => {
                circuit.answered_at = now;
                circuit.failures = 0;
                circuit.open_until = None;
                circuit.probing = false;
            }
            Some((false, error)) => {
                circuit.failures = circuit.failures.saturating_add(1);
                circuit.last_error = Arc::from(error.unwrap_or("no answer"));
                if circuit.probing || circuit.failures >= self.config.failures {
                    circuit.probing = false;
                    circuit.open_until = Some(now.checked_add(self.config.window).unwrap_or(now));
                }
            }
        }
        if circuit.forgettable() {
            circuits.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breakers(failures: u32, window_ms: u64) -> Arc<Breakers> {
        Arc::new(Breakers::new(BreakerConfig { failures, window: Duration::from_millis(window_ms) }))
    }

    fn attempt(b: &Arc<Breakers>, url: &str) -> Attempt {
        b.admit(url, true).unwrap().unwrap()
    }

    #[test]
    fn the_destination_is_the_scheme_host_and_port() {
        assert_eq!(destination("http://127.0.0.1:9/cb?x=1"), "http://127.0.0.1:9");
        assert_eq!(destination("https://hooks.example.test"), "https://hooks.example.test");
        assert_eq!(destination("http://h:1?q"), "http://h:1");
        assert_eq!(destination("not a url"), "not a url");
        assert_eq!(destination("a:b://x/y"), "a:b://x");
        assert_eq!(destination("http://h/é://z"), "http://h");
        assert_eq!(destination("://"), "://");
        assert_eq!(destination(""), "");
    }

    #[test]
    fn unanswered_attempts_in_a_row_open_the_circuit_and_an_answer_closes_it() {
        let b = breakers(3, 60_000);
        for _ in 0..3 {
            attempt(&b, "http://h:1/a").finish(false, Some("connection refused"));
        }
        let why = b.admit("http://h:1/other", true).err().unwrap();
        assert_eq!(b.check("http://h:1/x", true), Some(why.clone()), "checking says the same, without an attempt");
        assert!(why.contains("http://h:1 left 3 attempts in a row unanswered"), "{why}");
        assert!(why.contains("connection refused"), "{why}");
        // Another destination is not affected.
        attempt(&b, "http://h:2/a").finish(true, None);
        // An answer, whatever its status, closes a circuit.
        b.circuits().get_mut("http://h:1").unwrap().open_until = Some(Instant::now());
        let probe = attempt(&b, "http://h:1/a");
        assert!(b.admit("http://h:1/a", true).is_err(), "one probe at a time");
        probe.finish(true, None);
        attempt(&b, "http://h:1/a").finish(true, None);
        assert!(b.circuits().is_empty(), "healthy idle destinations are forgotten");
    }

    #[test]
    fn a_failed_probe_opens_the_circuit_again() {
        let b = breakers(1, 60_000);
        attempt(&b, "http://h:1/").finish(false, None);
        b.circuits().get_mut("http://h:1").unwrap().open_until = Some(Instant::now());
        attempt(&b, "http://h:1/").finish(false, Some("timed out"));
        assert!(b.admit("http://h:1/", true).err().unwrap().contains("timed out"));
    }

    #[test]
    fn a_destination_silent_with_attempts_in_flight_fails_further_attempts_fast() {
        let b = breakers(2, 0);
        let first = attempt(&b, "http://h:1/");
        let second = attempt(&b, "http://h:1/");
        assert!(b.check("http://h:1/", false).is_none(), "waited for while nothing backs up");
        let why = b.admit("http://h:1/", true).err().unwrap();
        assert!(why.contains("answered none of its 2 attempts in flight"), "{why}");
        drop(first);
        second.finish(true, None);
        assert!(b.admit("http://h:1/", true).is_ok());
    }

    #[test]
    fn answered_errors_never_open_the_circuit_and_zero_turns_it_off() {
        let b = breakers(1, 60_000);
        for _ in 0..5 {
            attempt(&b, "http://h:1/").finish(true, None);
        }
        let off = breakers(0, 60_000);
        for _ in 0..5 {
            assert!(off.admit("http://h:1/", true).unwrap().is_none());
        }
        assert!(off.check("http://h:1/", true).is_none());
        assert!(off.circuits().is_empty());
    }
}
