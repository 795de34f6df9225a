//! Observing the runtime: each step of the completion model as an [`Event`].
//!
//! Register an observer with [`Builder::on_event`](crate::Builder::on_event);
//! the runtime calls it synchronously at each step: a task polled, an SQE
//! pushed under a `user_data` key, each `io_uring_enter` (what it submits,
//! what it waits for) and its return, each CQE reaped and the task it wakes.
//! `examples/tour.rs` prints these to show where the asynchronicity is.
//!
//! The observer runs while the runtime's internals are borrowed: it must not
//! spawn, do I/O or touch the runtime; it should record or print and return.
//! Without an observer each step costs one branch.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

/// A task's number within its runtime; `TaskId(0)` is the future passed to
/// `block_on` (printed as `main`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_str("main")
        } else {
            write!(f, "task#{}", self.0)
        }
    }
}

/// One step of the runtime.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Event {
    /// `spawn` created a task.
    TaskSpawned {
        /// The new task.
        task: TaskId,
    },
    /// The loop is about to poll a task.
    TaskPoll {
        /// The task.
        task: TaskId,
    },
    /// A poll returned.
    TaskPolled {
        /// The task.
        task: TaskId,
        /// `true` for `Ready` (the task finished), `false` for `Pending`.
        ready: bool,
    },
    /// An op's SQE was queued for the kernel.
    SqePushed {
        /// The task that created the op.
        task: TaskId,
        /// The key the CQE will carry back.
        user_data: u64,
        /// The operation (`"nop"`, `"read"` …).
        op: &'static str,
    },
    /// The loop is entering the kernel (`io_uring_enter`).
    Enter {
        /// SQEs handed over by this call.
        to_submit: u32,
        /// CQEs to wait for (0: do not sleep).
        min_complete: u32,
        /// Longest sleep (the next timer), if waiting.
        timeout: Option<Duration>,
    },
    /// `io_uring_enter` returned.
    EnterReturned {
        /// SQEs consumed, or `-errno`.
        result: i64,
        /// Time spent in the call.
        elapsed: Duration,
    },
    /// A CQE was taken from the completion queue.
    CqeReaped {
        /// Its key.
        user_data: u64,
        /// Its `res`: a count, or `-errno`.
        result: i32,
        /// Its flags.
        flags: u32,
        /// The task that owns the op, if it is still known.
        task: Option<TaskId>,
    },
    /// The CQE of the runtime's eventfd read: a wake from another thread
    /// ended the loop's sleep (or, at shutdown, the read was cancelled).
    WakeupCqe {
        /// 8 (bytes read), or `-ECANCELED` when the runtime drains.
        result: i32,
    },
    /// Readiness driver: a task ran an op's syscall itself (a connect's
    /// check after `EINPROGRESS` is one attempt of two syscalls). An op
    /// whose descriptor is known not ready waits without an attempt, and
    /// without this event.
    Attempt {
        /// The task.
        task: TaskId,
        /// The operation.
        op: &'static str,
        /// Its result: a count, or `-errno` (`-11` = `EAGAIN`: not ready;
        /// `-115` = `EINPROGRESS`: a connect under way).
        result: i32,
    },
    /// Readiness driver: a descriptor was registered with epoll.
    EpollCtl {
        /// The descriptor.
        fd: i32,
    },
    /// Readiness driver: the loop is calling `epoll_wait`.
    EpollWait {
        /// Longest sleep, `None` = until an event; zero = just poll.
        timeout: Option<Duration>,
    },
    /// Readiness driver: `epoll_wait` returned.
    EpollReturned {
        /// Descriptors reported ready.
        events: usize,
    },
    /// A task was made runnable.
    TaskWoken {
        /// The task.
        task: TaskId,
        /// Woken from another thread (through the remote queue).
        remote: bool,
    },
    /// Timers expired and woke their tasks.
    TimersFired {
        /// How many.
        count: usize,
    },
}

pub(crate) type Observer = Rc<dyn Fn(&Event)>;
