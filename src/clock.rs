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

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

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
    /// A virtual clock showing `start` (within the years 0 to 9999).
    pub fn virtual_at(start: DateTime<Utc>) -> Clock {
        Clock::Virtual(Arc::new(Mutex::new(start.clamp(dawn(), horizon()))))
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

    /// Moves a virtual clock forward, at most to the [`horizon`]; returns
    /// the new time. A system clock cannot be moved and returns `None`.
    pub fn advance(&self, by: Duration) -> Option<DateTime<Utc>> {
        match self {
            Clock::System => None,
            Clock::Virtual(at) => {
                let mut at = lock(at);
                *at = after(*at, by).min(horizon());
                Some(*at)
            }
        }
    }

    /// Sets a virtual clock (within the years 0 to 9999); returns `None`
    /// for the system clock.
    pub fn set(&self, to: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Clock::System => None,
            Clock::Virtual(at) => {
                let to = to.clamp(dawn(), horizon());
                *lock(at) = to;
                Some(to)
            }
        }
    }
}

/// The latest time a virtual clock shows: the end of the year 9999, the
/// last a four-digit wire timestamp can say. Far enough from the end of
/// the calendar (the year 262143) that adding any delay a world or a
/// scenario allows (at most a hundred years) cannot overflow.
pub(crate) fn horizon() -> DateTime<Utc> {
    // A constant, valid date; the fallback is never used.
    DateTime::from_timestamp(253_402_300_799, 999_000_000).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The earliest time a virtual clock shows: the start of the year 0.
pub(crate) fn dawn() -> DateTime<Utc> {
    // A constant, valid date; the fallback is never used.
    DateTime::from_timestamp(-62_167_219_200, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `ms` milliseconds as a duration, saturating at the largest duration.
pub(crate) fn millis(ms: u64) -> Duration {
    Duration::try_milliseconds(i64::try_from(ms).unwrap_or(i64::MAX)).unwrap_or(Duration::MAX)
}

/// `secs` seconds as a duration, saturating at the largest duration.
pub(crate) fn seconds(secs: u64) -> Duration {
    Duration::try_seconds(i64::try_from(secs).unwrap_or(i64::MAX)).unwrap_or(Duration::MAX)
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

/// The monotonic instant `after` from now, saturating thirty years ahead
/// (a timeout or grace period from a flag cannot overflow the clock).
pub(crate) fn deadline(after: std::time::Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(after.min(std::time::Duration::from_secs(30 * 365 * 86_400))).unwrap_or(now)
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

/// A wall-clock reading as fixed-width digits in the order `fields` gives,
/// each letter as in `strftime` (`Y` four digits; `m`, `d`, `H`, `M`, `S`
/// two): `b"YmdHMS"` is `%Y%m%d%H%M%S`. Ids and timestamps are made of
/// these on every request; chrono's `format` reads its pattern each time.
pub(crate) fn digits(at: NaiveDateTime, fields: &[u8]) -> String {
    let mut out = String::with_capacity(fields.len().saturating_mul(2).saturating_add(2));
    push_digits(&mut out, at, fields);
    out
}

/// [`digits`], appended to `out`.
pub(crate) fn push_digits(out: &mut String, at: NaiveDateTime, fields: &[u8]) {
    use chrono::{Datelike, Timelike};
    fn push(out: &mut String, value: u32, width: u32) {
        for place in (0..width).rev() {
            let digit = value.checked_div(10u32.saturating_pow(place)).and_then(|v| v.checked_rem(10)).unwrap_or(0);
            out.push(char::from_digit(digit, 10).unwrap_or('0'));
        }
    }
    out.reserve(fields.len().saturating_mul(2).saturating_add(2));
    for field in fields {
        match field {
            b'Y' => match u32::try_from(at.year()) {
                Ok(year) if year <= 9999 => push(out, year, 4),
                // Past the virtual clock's last year by a delay: as chrono writes it.
                _ => out.push_str(&at.format("%Y").to_string()),
            },
            b'm' => push(out, at.month(), 2),
            b'd' => push(out, at.day(), 2),
            b'H' => push(out, at.hour(), 2),
            b'M' => push(out, at.minute(), 2),
            b'S' => push(out, at.second(), 2),
            _ => {}
        }
    }
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
        assert_eq!(clock.now(), horizon());
        assert_eq!(clock.now().to_rfc3339(), "9999-12-31T23:59:59.999+00:00");
        // At the horizon, a century more still fits the calendar.
        assert!(clock.now().checked_add_signed(Duration::days(36_525)).is_some());
        clock.set(DateTime::<Utc>::MIN_UTC);
        assert_eq!(clock.now(), dawn());
        assert_eq!(millis(u64::MAX), Duration::MAX);
        assert_eq!(seconds(90), Duration::seconds(90));
    }

    #[test]
    fn digits_write_fields_as_strftime_does() {
        let at = chrono::NaiveDate::from_ymd_opt(2024, 7, 6).and_then(|d| d.and_hms_opt(9, 5, 3)).unwrap();
        assert_eq!(digits(at, b"YmdHMS"), at.format("%Y%m%d%H%M%S").to_string());
        assert_eq!(digits(at, b"dmYHMS"), "06072024090503");
        let far = chrono::NaiveDate::from_ymd_opt(10099, 1, 2).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap();
        assert_eq!(digits(far, b"Ymd"), far.format("%Y%m%d").to_string());
        let early = chrono::NaiveDate::from_ymd_opt(7, 1, 2).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap();
        assert_eq!(digits(early, b"Ymd"), early.format("%Y%m%d").to_string());
    }

    #[test]
    fn eat_is_three_hours_ahead_of_utc() {
        let at = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(eat(at).to_string(), "1970-01-01 03:00:00");
    }
}
