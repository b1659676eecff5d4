//! Bounded retained history: entries by key, with finished ones forgotten,
//! oldest first, past a retention limit.
//!
//! Providers keep their transactions here: pending ones stay as long as they
//! are pending (a pending entry is never evicted), finished ones stay for
//! queries, status checks and reversals until the limit forgets the oldest.
//! An eviction hook lets the owner drop its secondary indexes in step.
//!
//! Pending entries are boxed in a map (few at a time, and the map keeps
//! spare capacity, which should cost a pointer per slot, not a whole
//! transaction). Finished entries, nearly all of them, lie in place in one
//! ring in the order they finished, the map holding their positions: the
//! ring's buffer is exactly as long as the limit once it is reached, so a
//! newly finished entry is written where the oldest was just forgotten
//! (still in cache), and forgetting the oldest reads the ring in order
//! instead of a box allocated long ago wherever the allocator put it. A key
//! is kept twice, by the map and by the ring: a shared string (the default)
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

/// Makes room for one more item in a deque that never holds more than
/// `bound` items at once: it grows by doubling as usual, but never past
/// `bound`, so a full deque's buffer is exactly its bound and each new
/// item lands in the slot the oldest just left, still in cache, instead of
/// one untouched since the buffer last went round.
pub(crate) fn reserve_bounded<T>(items: &mut VecDeque<T>, bound: usize) {
    if items.len() < items.capacity() {
        return;
    }
    let target = items.capacity().saturating_mul(2).max(8).min(bound);
    items.reserve_exact(target.saturating_sub(items.len()).max(1));
}

/// Where an entry is.
#[derive(Debug)]
enum Place<V> {
    Pending(Box<V>),
    /// Its number in finishing order; the ring's front is number `first`.
    Finished(u64),
}

/// A finished entry in the ring; `live` is false once a pending entry of
/// the same key has replaced it (it then only waits to be forgotten).
#[derive(Debug)]
struct Slot<K, V> {
    key: K,
    value: V,
    live: bool,
}

#[derive(Debug)]
pub struct Retained<V, K = Arc<str>> {
    places: HashMap<K, Place<V>>,
    /// Finished entries, oldest first.
    finished: VecDeque<Slot<K, V>>,
    /// The number of the ring's front entry.
    first: u64,
}

impl<V, K> Default for Retained<V, K> {
    fn default() -> Retained<V, K> {
        Retained { places: HashMap::default(), finished: VecDeque::new(), first: 0 }
    }
}

impl<V, K: Borrow<str> + Hash + Eq + Clone> Retained<V, K> {
    /// Adds (or replaces) a pending entry.
    pub fn insert(&mut self, key: impl Into<K>, value: V) {
        let replaced = self.places.insert(key.into(), Place::Pending(Box::new(value)));
        self.replaced(replaced);
    }

    /// Adds an entry that is finished from the start (a record), evicting
    /// past `limit`.
    pub fn insert_finished(&mut self, key: impl Into<K>, value: V, limit: usize, on_evict: impl FnMut(&str, V)) {
        self.push_finished(key.into(), value, limit);
        self.evict(limit, on_evict);
    }

    /// Marks an entry finished and forgets the oldest finished entries past
    /// `limit`, handing each to `on_evict`.
    pub fn finish(&mut self, key: &str, limit: usize, on_evict: impl FnMut(&str, V)) {
        match self.places.remove_entry(key) {
            Some((key, Place::Pending(value))) => self.push_finished(key, *value, limit),
            // Finished already: it keeps its place.
            Some((key, place)) => {
                self.places.insert(key, place);
            }
            None => {}
        }
        self.evict(limit, on_evict);
    }

    fn push_finished(&mut self, key: K, value: V, limit: usize) {
        let n = self.first.saturating_add(self.finished.len() as u64);
        reserve_bounded(&mut self.finished, limit.max(1).saturating_add(1));
        let replaced = self.places.insert(key.clone(), Place::Finished(n));
        self.replaced(replaced);
        self.finished.push_back(Slot { key, value, live: true });
    }

    /// A finished entry whose key now names another is never handed out
    /// again; it waits in the ring to be forgotten.
    fn replaced(&mut self, place: Option<Place<V>>) {
        if let Some(Place::Finished(n)) = place {
            if let Some(slot) = self.slot_mut(n) {
                slot.live = false;
            }
        }
    }

    fn slot(&self, n: u64) -> Option<&Slot<K, V>> {
        self.finished.get(usize::try_from(n.checked_sub(self.first)?).ok()?)
    }

    fn slot_mut(&mut self, n: u64) -> Option<&mut Slot<K, V>> {
        self.finished.get_mut(usize::try_from(n.checked_sub(self.first)?).ok()?)
    }

    fn evict(&mut self, limit: usize, mut on_evict: impl FnMut(&str, V)) {
        while self.finished.len() > limit.max(1) {
            let Some(old) = self.finished.pop_front() else { break };
            let n = self.first;
            self.first = self.first.saturating_add(1);
            if !old.live {
                continue;
            }
            if matches!(self.places.get(old.key.borrow()), Some(Place::Finished(m)) if *m == n) {
                self.places.remove(old.key.borrow());
            }
            on_evict(old.key.borrow(), old.value);
        }
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        match self.places.get(key)? {
            Place::Pending(value) => Some(value),
            Place::Finished(n) => self.slot(*n).map(|slot| &slot.value),
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let Retained { places, finished, first } = self;
        match places.get_mut(key)? {
            Place::Pending(value) => Some(value),
            Place::Finished(n) => {
                finished.get_mut(usize::try_from(n.checked_sub(*first)?).ok()?).map(|slot| &mut slot.value)
            }
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.places.contains_key(key)
    }

    /// Every entry, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        let pending = self.places.values().filter_map(|place| match place {
            Place::Pending(value) => Some(value.as_ref()),
            Place::Finished(_) => None,
        });
        pending.chain(self.finished())
    }

    /// Finished entries, oldest first.
    pub fn finished(&self) -> impl Iterator<Item = &V> {
        self.finished.iter().filter(|slot| slot.live).map(|slot| &slot.value)
    }

    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
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
    fn a_finished_entry_is_changed_in_place_and_a_pending_one_of_its_key_replaces_it() {
        let mut retained: Retained<i32> = Retained::default();
        retained.insert_finished("a".to_owned(), 1, 2, |_, _| panic!("under the limit"));
        *retained.get_mut("a").expect("kept") += 10;
        assert_eq!(retained.get("a"), Some(&11));
        // Finishing it again changes nothing.
        retained.finish("a", 2, |_, _| panic!("under the limit"));
        assert_eq!(retained.finished().copied().collect::<Vec<_>>(), vec![11]);
        // A pending entry of the same key replaces it; the old one is never handed out again.
        retained.insert("a".to_owned(), 2);
        assert_eq!(retained.get("a"), Some(&2));
        assert_eq!(retained.finished().count(), 0);
        assert_eq!(retained.len(), 1);
        let mut evicted = Vec::new();
        retained.finish("a", 1, |k, v| evicted.push((k.to_owned(), v)));
        assert_eq!(retained.get("a"), Some(&2));
        assert!(evicted.is_empty(), "the replaced entry is dropped unannounced: {evicted:?}");
        retained.insert_finished("b".to_owned(), 3, 1, |k, v| evicted.push((k.to_owned(), v)));
        assert_eq!(evicted, vec![("a".to_owned(), 2)]);
        assert_eq!(retained.get("a"), None);
        assert_eq!(retained.values().copied().collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn a_full_ring_is_exactly_as_long_as_its_bound() {
        let mut items = VecDeque::new();
        for n in 0..1000 {
            if items.len() == 100 {
                items.pop_front();
            }
            reserve_bounded(&mut items, 100);
            items.push_back(n);
        }
        assert_eq!(items.capacity(), 100);
        assert_eq!(items.front(), Some(&900));
        let mut retained: Retained<u64> = Retained::default();
        for n in 0..1000u64 {
            retained.insert_finished(n.to_string(), n, 100, |_, _| {});
        }
        assert_eq!(retained.finished.capacity(), 101);
        assert_eq!(retained.finished().next(), Some(&900));
        assert_eq!(retained.get("950"), Some(&950));
        assert_eq!(retained.get("899"), None);
    }

    /// What the ring must do, the slow way: every entry in one list.
    #[derive(Default)]
    struct Model {
        pending: Vec<(String, u32)>,
        /// (key, value, live), oldest first.
        finished: VecDeque<(String, u32, bool)>,
    }

    impl Model {
        fn kill(&mut self, key: &str) {
            for slot in self.finished.iter_mut().filter(|s| s.0 == key) {
                slot.2 = false;
            }
        }
        fn evict(&mut self, limit: usize, evicted: &mut Vec<(String, u32)>) {
            while self.finished.len() > limit.max(1) {
                if let Some((key, value, true)) = self.finished.pop_front() {
                    evicted.push((key, value));
                }
            }
        }
        fn get(&self, key: &str) -> Option<u32> {
            let pending = self.pending.iter().find(|p| p.0 == key).map(|p| p.1);
            pending.or_else(|| self.finished.iter().find(|s| s.0 == key && s.2).map(|s| s.1))
        }
    }

    proptest::proptest! {
        #[test]
        fn the_ring_behaves_like_one_list(
            ops in proptest::collection::vec((0u8..3, 0u8..5, 0u32..100), 0..60),
            limit in 0usize..5,
        ) {
            let mut retained: Retained<u32> = Retained::default();
            let mut model = Model::default();
            let (mut got, mut want) = (Vec::new(), Vec::new());
            for (op, key, value) in ops {
                let key = format!("k{key}");
                match op {
                    0 => {
                        retained.insert(key.clone(), value);
                        model.kill(&key);
                        model.pending.retain(|p| p.0 != key);
                        model.pending.push((key, value));
                    }
                    1 => {
                        retained.insert_finished(key.clone(), value, limit, |k, v| got.push((k.to_owned(), v)));
                        model.kill(&key);
                        model.pending.retain(|p| p.0 != key);
                        model.finished.push_back((key, value, true));
                        model.evict(limit, &mut want);
                    }
                    _ => {
                        retained.finish(&key, limit, |k, v| got.push((k.to_owned(), v)));
                        if let Some(at) = model.pending.iter().position(|p| p.0 == key) {
                            let (key, value) = model.pending.remove(at);
                            model.finished.push_back((key, value, true));
                        }
                        model.evict(limit, &mut want);
                    }
                }
                proptest::prop_assert_eq!(&got, &want);
                for k in 0..5 {
                    let k = format!("k{k}");
                    proptest::prop_assert_eq!(retained.get(&k).copied(), model.get(&k));
                }
                let finished: Vec<u32> = model.finished.iter().filter(|s| s.2).map(|s| s.1).collect();
                proptest::prop_assert_eq!(retained.finished().copied().collect::<Vec<_>>(), finished.clone());
                proptest::prop_assert_eq!(retained.len(), model.pending.len().saturating_add(finished.len()));
            }
        }
    }

    #[test]
    fn finishing_an_unknown_key_changes_nothing() {
        let mut retained: Retained<u32> = Retained::default();
        retained.finish("nobody", 1, |_, _| panic!("nothing to evict"));
        assert!(retained.is_empty());
    }
}
