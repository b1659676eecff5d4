//! Bounded retained history: entries by key, with finished ones forgotten,
//! oldest first, past a retention limit.
//!
//! Providers keep their transactions here: pending ones stay as long as they
//! are pending (a pending entry is never evicted), finished ones stay for
//! queries, status checks and reversals until the limit forgets the oldest.
//! An eviction hook lets the owner drop its secondary indexes in step.
//!
//! Values are boxed: the map keeps spare capacity, which should cost a
//! pointer per slot, not a whole transaction. A key is kept once, shared by
//! the map and the order of finished entries.

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

use std::collections::VecDeque;
use std::sync::Arc;

use crate::fastmap::HashMap;

#[derive(Debug)]
pub struct Retained<V> {
    entries: HashMap<Arc<str>, Box<V>>,
    /// Finished keys, oldest first.
    finished: VecDeque<Arc<str>>,
}

impl<V> Default for Retained<V> {
    fn default() -> Retained<V> {
        Retained { entries: HashMap::default(), finished: VecDeque::new() }
    }
}

impl<V> Retained<V> {
    /// Adds (or replaces) a pending entry.
    pub fn insert(&mut self, key: impl Into<Arc<str>>, value: V) {
        self.entries.insert(key.into(), Box::new(value));
    }

    /// Adds an entry that is finished from the start (a record), evicting
    /// past `limit`.
    pub fn insert_finished(&mut self, key: impl Into<Arc<str>>, value: V, limit: usize, on_evict: impl FnMut(&str, V)) {
        let key: Arc<str> = key.into();
        self.entries.insert(key.clone(), Box::new(value));
        self.finished.push_back(key);
        self.evict(limit, on_evict);
    }

    /// Marks an entry finished and forgets the oldest finished entries past
    /// `limit`, handing each to `on_evict`.
    pub fn finish(&mut self, key: &str, limit: usize, on_evict: impl FnMut(&str, V)) {
        if let Some((key, _)) = self.entries.get_key_value(key) {
            self.finished.push_back(key.clone());
        }
        self.evict(limit, on_evict);
    }

    fn evict(&mut self, limit: usize, mut on_evict: impl FnMut(&str, V)) {
        while self.finished.len() > limit.max(1) {
            let Some(old) = self.finished.pop_front() else { break };
            if let Some(value) = self.entries.remove(&old) {
                on_evict(&old, *value);
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key).map(Box::as_ref)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.entries.get_mut(key).map(Box::as_mut)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Every entry, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.values().map(Box::as_ref)
    }

    /// Finished entries, oldest first.
    pub fn finished(&self) -> impl Iterator<Item = &V> {
        self.finished.iter().filter_map(|k| self.entries.get(k)).map(Box::as_ref)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_entries_are_forgotten_oldest_first_and_pending_ones_stay() {
        let mut retained = Retained::default();
        retained.insert("pending", 0);
        let mut evicted = Vec::new();
        for n in 1..=5 {
            retained.insert(format!("t{n}"), n);
            retained.finish(&format!("t{n}"), 3, |k, v| evicted.push((k.to_owned(), v)));
        }
        assert_eq!(evicted, vec![("t1".to_owned(), 1), ("t2".to_owned(), 2)]);
        assert!(retained.contains_key("pending"));
        assert_eq!(retained.finished().copied().collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(retained.len(), 4);
    }

    #[test]
    fn finishing_an_unknown_key_changes_nothing() {
        let mut retained: Retained<u32> = Retained::default();
        retained.finish("nobody", 1, |_, _| panic!("nothing to evict"));
        assert!(retained.is_empty());
    }
}
