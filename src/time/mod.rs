//! Time: [`sleep`], [`sleep_until`], [`timeout`] and [`interval`].
//!
//! Timers are kept in user space by the runtime (a heap); the loop sleeps in
//! its single `io_uring_enter` with the earliest deadline as the timeout. A
//! timer never fires early: it fires at the first loop turn at or after its
//! deadline. All of these must be polled inside a ringloop runtime.

mod queue;

pub(crate) use queue::TimerQueue;

use crate::runtime::context;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Waits until `duration` has passed.
///
/// # Panics
///
/// When polled outside a ringloop runtime.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Waits until `deadline`.
///
/// # Panics
///
/// When polled outside a ringloop runtime.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        entry: None,
    }
}

/// Future returned by [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    /// The registered timer, once polled.
    entry: Option<(Rc<RefCell<TimerQueue>>, usize)>,
}

impl Sleep {
    /// When this sleep ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline; the sleep is pending again until then.
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if let Some((timers, key)) = self.entry.take() {
            timers.borrow_mut().remove(key);
        }
    }

    fn poll_sleep(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some((timers, key)) = &self.entry {
            let mut timers = timers.borrow_mut();
            if timers.is_fired(*key) {
                timers.remove(*key);
                drop(timers);
                self.entry = None;
                return Poll::Ready(());
            }
            timers.set_waker(*key, cx.waker());
            return Poll::Pending;
        }
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let timers = context::with_core(|core| Rc::clone(&core.timers))
            .expect("ringloop::time futures must be polled inside a ringloop runtime");
        let key = timers
            .borrow_mut()
            .insert(self.deadline, cx.waker().clone());
        self.entry = Some((timers, key));
        Poll::Pending
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_sleep(cx)
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((timers, key)) = self.entry.take() {
            if let Ok(mut timers) = timers.try_borrow_mut() {
                timers.remove(key);
            }
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// Runs `future` for at most `duration`.
///
/// Resolves to `Ok(output)` if the future finished in time, or
/// `Err(Elapsed)` (the future is then dropped, cancelling its I/O).
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// Future returned by [`timeout`].
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // `Timeout`, which has no `Drop` impl and is `Unpin` only if `F` is.
        // `sleep` is not pinned (it is `Unpin`).
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.future` stays in place.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        this.sleep.poll_sleep(cx).map(|()| Err(Elapsed(())))
    }
}

/// The error of a [`timeout`] whose deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(e: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, e)
    }
}

/// Ticks every `period`, the first tick at once.
///
/// If the loop falls behind, the missed ticks come back to back until the
/// interval has caught up with its schedule (deadlines stay multiples of
/// `period` from the start).
///
/// # Panics
///
/// If `period` is zero.
pub fn interval(period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval period must be non-zero");
    Interval {
        sleep: sleep_until(Instant::now()),
        period,
    }
}

/// Stream of ticks returned by [`interval`].
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
}

impl Interval {
    /// Waits for the next tick; returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Poll form of [`Interval::tick`].
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        match self.sleep.poll_sleep(cx) {
            Poll::Ready(()) => {
                let at = self.sleep.deadline();
                self.sleep.reset(at + self.period);
                Poll::Ready(at)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// The interval's period.
    pub fn period(&self) -> Duration {
        self.period
    }
}
