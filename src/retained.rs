//! Bounded retained history: entries by key, with finished ones forgotten,
//! oldest first, past a retention limit.
//!
//! Providers keep their transactions here: pending ones stay as long as they
//! are pending (a pending entry is never evicted), finished ones stay for
//! queries, status checks and reversals until the limit forgets the oldest.
//! An eviction hook lets the owner drop its secondary indexes in step.
//!
//! Values are boxed: the map keeps spare capacity, which should cost a
//! pointer per slot, not a whole transaction. A key is kept twice, by the
//! map and by the order of finished entries: a shared string (the default)
//! is one allocation both hold, an inline one (`CompactString`, for short
//! keys such as receipts) is copied and allocates nothing.

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::Arc;

use crate::fastmap::HashMap;

#[derive(Debug)]
pub struct Retained<V, K = Arc<str>> {
    entries: HashMap<K, Box<V>>,
    /// Finished keys, oldest first.
    finished: VecDeque<K>,
}

impl<V, K> Default for Retained<V, K> {
    fn default() -> Retained<V, K> {
        Retained { entries: HashMap::default(), finished: VecDeque::new() }
    }
}

impl<V, K: Borrow<str> + Hash + Eq + Clone> Retained<V, K> {
    /// Adds (or replaces) a pending entry.
    pub fn insert(&mut self, key: impl Into<K>, value: V) {
        self.entries.insert(key.into(), Box::new(value));
    }

    /// Adds an entry that is finished from the start (a record), evicting
    /// past `limit`.
    pub fn insert_finished(&mut self, key: impl Into<K>, value: V, limit: usize, on_evict: impl FnMut(&str, V)) {
        let key: K = key.into();
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
            if let Some(value) = self.entries.remove(old.borrow()) {
                on_evict(old.borrow(), *value);
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
        self.finished.iter().filter_map(|k| self.entries.get(k.borrow())).map(Box::as_ref)
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

    /// The same behaviour whichever way the keys are held.
    fn forgets_oldest_finished_first<K: Borrow<str> + Hash + Eq + Clone + From<String>>() {
        let mut retained: Retained<i32, K> = Retained::default();
        retained.insert("pending".to_owned(), 0);
        let mut evicted = Vec::new();
        for n in 1..=5 {
            retained.insert(format!("t{n}"), n);
            retained.finish(&format!("t{n}"), 3, |k, v| evicted.push((k.to_owned(), v)));
        }
        retained.insert_finished("r6".to_owned(), 6, 3, |k, v| evicted.push((k.to_owned(), v)));
        assert_eq!(evicted, vec![("t1".to_owned(), 1), ("t2".to_owned(), 2), ("t3".to_owned(), 3)]);
        assert!(retained.contains_key("pending"));
        assert_eq!(retained.get("r6"), Some(&6));
        assert_eq!(retained.finished().copied().collect::<Vec<_>>(), vec![4, 5, 6]);
        assert_eq!(retained.len(), 4);
    }

    #[test]
    fn finished_entries_are_forgotten_oldest_first_and_pending_ones_stay() {
        forgets_oldest_finished_first::<Arc<str>>();
        forgets_oldest_finished_first::<compact_str::CompactString>();
    }

    #[test]
    fn finishing_an_unknown_key_changes_nothing() {
        let mut retained: Retained<u32> = Retained::default();
        retained.finish("nobody", 1, |_, _| panic!("nothing to evict"));
        assert!(retained.is_empty());
    }
}
