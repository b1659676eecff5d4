//! A thread's few most recent texts, shared: a client sends the same
//! callback URL and calls the same paths over and over, and a receiver
//! answers every callback alike, while what keeps them (transactions, the
//! journal) keeps thousands. Asking here for a text seen recently gives the
//! same shared string (a reference count) instead of a new copy.

use std::sync::Arc;

/// The last `N` texts kept, most recent first.
pub(crate) struct Recent<const N: usize> {
    texts: [Option<Arc<str>>; N],
}

impl<const N: usize> Recent<N> {
    pub(crate) const fn new() -> Recent<N> {
        Recent { texts: [const { None }; N] }
    }

    /// The kept text whose bytes are `bytes`, if any.
    pub(crate) fn find(&self, bytes: &[u8]) -> Option<&Arc<str>> {
        self.texts.iter().flatten().find(|text| text.as_bytes() == bytes)
    }

    /// The kept text equal to `text`, or a new shared copy, kept first
    /// (the oldest is forgotten).
    pub(crate) fn share(&mut self, text: &str) -> Arc<str> {
        let at = self.texts.iter().position(|kept| kept.as_deref() == Some(text));
        match at.and_then(|at| self.texts.get_mut(..=at)) {
            // Moved first, not kept twice.
            Some(up_to) => {
                up_to.rotate_right(1);
                up_to.first().cloned().flatten().unwrap_or_else(|| text.into())
            }
            None => {
                let shared: Arc<str> = text.into();
                self.keep(shared.clone());
                shared
            }
        }
    }

    /// Keeps `text` first.
    pub(crate) fn keep(&mut self, text: Arc<str>) {
        if N > 0 {
            self.texts.rotate_right(1);
            if let Some(first) = self.texts.first_mut() {
                *first = Some(text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recent_text_is_shared_and_the_oldest_is_forgotten() {
        let mut recent = Recent::<2>::new();
        let a = recent.share("/a");
        assert!(Arc::ptr_eq(&a, &recent.share("/a")));
        recent.share("/b");
        assert!(Arc::ptr_eq(&a, &recent.share("/a")), "moved first, not kept twice");
        recent.share("/c");
        assert!(recent.find(b"/b").is_none(), "forgotten past two");
        assert!(recent.find(b"/a").is_some() && recent.find(b"/c").is_some());
        recent.share("/b");
        assert!(recent.find(b"/b").is_some() && recent.find(b"/c").is_some());
        let mut none = Recent::<0>::new();
        assert_eq!(&*none.share("/x"), "/x");
        assert!(none.find(b"/x").is_none());
    }
}
