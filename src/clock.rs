//! The sandbox clock.
//!
//! Every time the sandbox reasons about (token expiry, STK timeouts, timestamp
//! windows, callback delays, retries) comes from a [`Clock`], never from
//! `SystemTime` or `Instant` directly.
//! Each tenant owns one clock, so a test can freeze or advance its own time
//! without touching anyone else's.
//!
//! Wire formats in East Africa speak East Africa Time (UTC+3, no daylight
//! saving); [`eat`] converts an instant to that wall-clock reading.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Utc};

/// Where a tenant's "now" comes from.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The machine's clock; time passes on its own.
    System,
    /// A clock that only moves when told to (admin API, tests).
    Virtual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    pub fn virtual_at(start: DateTime<Utc>) -> Clock {
        Clock::Virtual(Arc::new(Mutex::new(start)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Virtual(at) => *lock(at),
        }
    }

    pub fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual(_))
    }

    /// Moves a virtual clock forward; returns the new time.
    /// A system clock cannot be moved and returns `None`.
    pub fn advance(&self, by: Duration) -> Option<DateTime<Utc>> {
        match self {
            Clock::System => None,
            Clock::Virtual(at) => {
                let mut at = lock(at);
                *at = after(*at, by);
                Some(*at)
            }
        }
    }

    /// Sets a virtual clock; returns `None` for the system clock.
    pub fn set(&self, to: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Clock::System => None,
            Clock::Virtual(at) => {
                *lock(at) = to;
                Some(to)
            }
        }
    }
}

/// `at + by`, saturating at the ends of the calendar instead of panicking:
/// delays come from worlds, scenarios and the admin API, and a hostile
/// number must not stop the sandbox.
pub(crate) fn after(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    at.checked_add_signed(by).unwrap_or(if by < Duration::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// `at` plus `ms` milliseconds, saturating (see [`after`]).
pub(crate) fn after_ms(at: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
    after(at, Duration::try_milliseconds(ms).unwrap_or(if ms < 0 { Duration::MIN } else { Duration::MAX }))
}

/// `at` plus `ms` milliseconds of an unsigned delay, saturating.
pub(crate) fn after_ms_u64(at: DateTime<Utc>, ms: u64) -> DateTime<Utc> {
    after_ms(at, i64::try_from(ms).unwrap_or(i64::MAX))
}

/// East Africa Time, the zone of every M-Pesa wire timestamp.
pub(crate) fn eat_offset() -> FixedOffset {
    // 3 hours is always a valid offset; the `expect` cannot fire.
    FixedOffset::east_opt(3 * 3600).expect("UTC+3 is a valid offset")
}

/// The EAT wall-clock reading of an instant.
pub(crate) fn eat(at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&eat_offset()).naive_local()
}

// A poisoned clock mutex only means another thread panicked while holding a
// plain `DateTime`; the value is still valid, so keep going.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_when_told() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let clock = Clock::virtual_at(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(90));
        assert_eq!(clock.now(), start + Duration::seconds(90));
        assert!(Clock::System.advance(Duration::seconds(1)).is_none());
    }

    #[test]
    fn time_arithmetic_saturates_instead_of_panicking() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(after_ms_u64(start, u64::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(after_ms(start, i64::MIN), DateTime::<Utc>::MIN_UTC);
        assert_eq!(after_ms(start, 1500), start + Duration::milliseconds(1500));
        let clock = Clock::virtual_at(start);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn eat_is_three_hours_ahead_of_utc() {
        let at = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(eat(at).to_string(), "1970-01-01 03:00:00");
    }
}
