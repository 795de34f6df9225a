//! The timer queue: a binary heap of deadlines over a slab of entries.
//!
//! Timers live in user space. The loop asks [`TimerQueue::next_deadline`]
//! and passes it as the timeout of its one `io_uring_enter`, so 100k sleeps
//! cost no SQE at all. Dropping a `Sleep` removes its entry at once; its heap
//! item goes stale and is skipped (the heap is rebuilt when stale items
//! outnumber live ones, so memory stays proportional to live timers).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::Instant;

struct Entry {
    /// Matches the heap item that is current for this entry.
    seq: u64,
    waker: Option<Waker>,
    fired: bool,
}

/// Timers of one runtime.
#[derive(Default)]
pub(crate) struct TimerQueue {
    entries: slab::Slab<Entry>,
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    next_seq: u64,
    /// Timers fired so far (for stats).
    pub(crate) fired: u64,
}

impl TimerQueue {
    /// Registers a timer; returns its key.
    pub(crate) fn insert(&mut self, deadline: Instant, waker: Waker) -> usize {
        let seq = self.bump_seq();
        let key = self.entries.insert(Entry {
            seq,
            waker: Some(waker),
            fired: false,
        });
        self.heap.push(Reverse((deadline, seq, key)));
        key
    }

    fn bump_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Whether the timer `key` has fired.
    pub(crate) fn is_fired(&self, key: usize) -> bool {
        self.entries.get(key).is_none_or(|e| e.fired)
    }

    /// Replaces the waker of a pending timer.
    pub(crate) fn set_waker(&mut self, key: usize, waker: &Waker) {
        if let Some(entry) = self.entries.get_mut(key) {
            match &mut entry.waker {
                Some(w) if w.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        }
    }

    /// Forgets timer `key`.
    pub(crate) fn remove(&mut self, key: usize) {
        self.entries.try_remove(key);
        self.compact_if_stale();
    }

    fn is_current(&self, seq: u64, key: usize) -> bool {
        self.entries
            .get(key)
            .is_some_and(|e| e.seq == seq && !e.fired)
    }

    /// The earliest pending deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((deadline, seq, key))) = self.heap.peek().copied() {
            if self.is_current(seq, key) {
                return Some(deadline);
            }
            self.heap.pop();
        }
        None
    }

    /// Fires every timer due at `now`, moving their wakers into `out`.
    pub(crate) fn fire_expired(&mut self, now: Instant, out: &mut Vec<Waker>) -> usize {
        let mut fired = 0;
        while let Some(Reverse((deadline, seq, key))) = self.heap.peek().copied() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            if !self.is_current(seq, key) {
                continue;
            }
            let entry = &mut self.entries[key];
            entry.fired = true;
            if let Some(waker) = entry.waker.take() {
                out.push(waker);
            }
            fired += 1;
        }
        self.fired += fired as u64;
        fired
    }

    /// Number of registered timers (pending or fired, not yet dropped).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn compact_if_stale(&mut self) {
        if self.heap.len() > 64 && self.heap.len() > 2 * self.entries.len() {
            let entries = &self.entries;
            self.heap.retain(|Reverse((_, seq, key))| {
                entries.get(*key).is_some_and(|e| e.seq == *seq && !e.fired)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;
    use std::time::Duration;

    #[test]
    fn fires_in_deadline_order_and_skips_removed() {
        let mut q = TimerQueue::default();
        let t0 = Instant::now();
        let a = q.insert(t0 + Duration::from_millis(20), Waker::noop().clone());
        let b = q.insert(t0 + Duration::from_millis(10), Waker::noop().clone());
        let c = q.insert(t0 + Duration::from_millis(30), Waker::noop().clone());
        q.remove(b);
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(20)));
        let mut out = Vec::new();
        assert_eq!(q.fire_expired(t0 + Duration::from_millis(25), &mut out), 1);
        assert!(q.is_fired(a) && !q.is_fired(c));
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(30)));
    }

    #[test]
    fn stale_heap_items_are_compacted() {
        let mut q = TimerQueue::default();
        let t0 = Instant::now() + Duration::from_secs(60);
        for i in 0..10_000u64 {
            let k = q.insert(t0 + Duration::from_millis(i), Waker::noop().clone());
            q.remove(k);
        }
        assert_eq!(q.len(), 0);
        assert!(q.heap.len() <= 64, "heap kept {} stale items", q.heap.len());
    }
}
