//! [`Stats`]: what the runtime did, counted.

use std::fmt;

/// Counters of one runtime since it was built. Take two snapshots and
/// [`Stats::since`] to measure a stretch of work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Tasks spawned.
    pub tasks_spawned: u64,
    /// Polls of tasks and of root futures.
    pub tasks_polled: u64,
    /// Wakes on the loop's own thread (lock-free local queue).
    pub local_wakes: u64,
    /// Wakes from other threads (remote queue).
    pub remote_wakes: u64,
    /// Remote wakes that had to end a sleep (eventfd writes).
    pub unparks: u64,
    /// Times the loop went to sleep in the kernel.
    pub parks: u64,
    /// Operations started: SQEs of ops on io_uring (not counting cancels),
    /// first polls of ops on epoll.
    pub ops_submitted: u64,
    /// `ASYNC_CANCEL`s queued for dropped in-flight ops.
    pub cancels: u64,
    /// CQEs reaped.
    pub cqes_reaped: u64,
    /// CQEs that matched no live op (stale generation): ignored.
    pub stale_cqes: u64,
    /// `io_uring_enter` calls.
    pub enters: u64,
    /// Of those, calls that waited for a completion.
    pub waits: u64,
    /// Times the SQ ring was full and was flushed early.
    pub sq_full_flushes: u64,
    /// SQEs that had to wait in the user-space backlog.
    pub backlogged: u64,
    /// Extra enters made to drain an overflowed CQ.
    pub cq_overflow_drains: u64,
    /// `EINTR`s absorbed by the loop.
    pub eintr_retries: u64,
    /// Remote wakes this runtime sent to a sleeping runtime on another core
    /// as an `IORING_OP_MSG_RING` CQE (instead of an eventfd write).
    pub msg_ring_wakes: u64,
    /// Readiness driver: `epoll_wait` calls.
    pub epoll_waits: u64,
    /// Readiness driver: `epoll_ctl` calls (one per descriptor, and the
    /// driver's own for its wake-up eventfd).
    pub epoll_ctls: u64,
    /// Readiness driver: syscalls ops ran themselves (`read`, `recv` …; a
    /// connect's check after `EINPROGRESS` makes two).
    pub attempts: u64,
    /// Readiness driver: attempts that said `EAGAIN` (or `EINPROGRESS`):
    /// not ready yet.
    pub eagain_retries: u64,
    /// Readiness driver: attempts not made because the descriptor was known
    /// not ready (its readiness flag was clear); the op waited at once.
    pub skipped_attempts: u64,
    /// Readiness driver: reads of the wake-up eventfd after a remote wake.
    pub wakeup_reads: u64,
    /// Timers that fired.
    pub timers_fired: u64,
}

impl Stats {
    /// The counts accumulated since the snapshot `earlier`.
    pub fn since(&self, earlier: &Stats) -> Stats {
        macro_rules! diff {
            ($($f:ident),*) => { Stats { $($f: self.$f.saturating_sub(earlier.$f)),* } };
        }
        diff!(
            tasks_spawned,
            tasks_polled,
            local_wakes,
            remote_wakes,
            unparks,
            parks,
            ops_submitted,
            cancels,
            cqes_reaped,
            stale_cqes,
            enters,
            waits,
            sq_full_flushes,
            backlogged,
            cq_overflow_drains,
            eintr_retries,
            msg_ring_wakes,
            epoll_waits,
            epoll_ctls,
            attempts,
            eagain_retries,
            skipped_attempts,
            wakeup_reads,
            timers_fired
        )
    }

    /// Syscalls the loop and its ops made for I/O: `io_uring_enter` on the
    /// completion driver; `epoll_wait`, `epoll_ctl` and the ops' own
    /// syscalls and the eventfd reads on the readiness driver. (Remote
    /// wakes' eventfd writes are made by other threads and not counted.)
    pub fn io_syscalls(&self) -> u64 {
        self.enters + self.epoll_waits + self.epoll_ctls + self.attempts + self.wakeup_reads
    }

    fn rows(&self) -> [(&'static str, u64); 24] {
        [
            ("tasks spawned", self.tasks_spawned),
            ("tasks polled", self.tasks_polled),
            ("local wakes", self.local_wakes),
            ("remote wakes", self.remote_wakes),
            ("unparks (eventfd writes)", self.unparks),
            ("parks", self.parks),
            ("ops submitted", self.ops_submitted),
            ("cancels", self.cancels),
            ("CQEs reaped", self.cqes_reaped),
            ("stale CQEs", self.stale_cqes),
            ("io_uring_enter calls", self.enters),
            ("  of which waited", self.waits),
            ("SQ-full flushes", self.sq_full_flushes),
            ("backlogged SQEs", self.backlogged),
            ("CQ-overflow drains", self.cq_overflow_drains),
            ("EINTR retries", self.eintr_retries),
            ("MSG_RING wakes sent", self.msg_ring_wakes),
            ("epoll_wait calls", self.epoll_waits),
            ("epoll_ctl calls", self.epoll_ctls),
            ("syscalls run by ops", self.attempts),
            ("  of which EAGAIN", self.eagain_retries),
            ("attempts skipped (not ready)", self.skipped_attempts),
            ("wake-up eventfd reads", self.wakeup_reads),
            ("timers fired", self.timers_fired),
        ]
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.rows() {
            writeln!(f, "  {name:<26} {value:>12}")?;
        }
        Ok(())
    }
}
