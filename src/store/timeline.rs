//! A tenant's timeline: the single place where "something happens later"
//! is recorded, ordered by sandbox time.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::callbacks::{CallbackJob, Reply, ReplyTo};
use crate::providers::Due;

/// Something a tenant must do at a given sandbox time.
#[derive(Debug)]
pub enum Event {
    /// A provider's own event (settle a payment, ...).
    Provider(Due),
    /// Hand a callback to the engine.
    Deliver(CallbackJob),
    /// Journal a callback the scenario drops (never sent).
    Dropped(CallbackJob),
    /// Hold a callback until a later transaction's callback has been sent.
    Hold(CallbackJob),
    /// Send a held callback now if nothing released it earlier.
    ReleaseHeld { callback_id: compact_str::CompactString, copy: u32 },
    /// A receiver answered a callback whose answer matters.
    Reply { reply_to: ReplyTo, reply: Reply },
    /// Panics when it falls due: proves that supervision contains a bug in
    /// one tenant's event (tests only).
    #[cfg(test)]
    Fail(&'static str),
}

/// A tenant's due events in time order; ties keep insertion order, so
/// advancing a clock releases them deterministically. Events are boxed: an
/// event is a few hundred bytes, and a B-tree shifts the values of a node on
/// every insertion and removal (taking the earliest event moved up to ten).
#[derive(Debug, Default)]
pub struct Timeline {
    events: BTreeMap<(DateTime<Utc>, u64), Box<Event>>,
    seq: u64,
}

impl Timeline {
    pub fn schedule(&mut self, at: DateTime<Utc>, event: Event) {
        self.seq = self.seq.wrapping_add(1);
        self.events.insert((at, self.seq), Box::new(event));
    }

    /// Removes and returns every event due at or before `now`, in order.
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, Event)> {
        // Counted first, so the list is made once at its size: under load
        // dozens fall due at once, and an event is a few hundred bytes.
        let mut due = Vec::with_capacity(self.events.keys().take_while(|(at, _)| *at <= now).count());
        while let Some(entry) = self.events.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            due.push((at, *event));
        }
        due
    }

    /// Every pending event with its time, in order.
    pub fn iter(&self) -> impl Iterator<Item = (DateTime<Utc>, &Event)> {
        self.events.iter().map(|((at, _), event)| (*at, &**event))
    }

    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        self.events.keys().next().map(|(at, _)| *at)
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Removes everything; returns how many events were pending.
    pub fn clear(&mut self) -> usize {
        let n = self.events.len();
        self.events.clear();
        n
    }
}
