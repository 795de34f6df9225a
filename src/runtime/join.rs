//! [`JoinHandle`] and [`JoinError`].

use super::task::TaskRef;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

/// Owned permission to await a spawned task's output.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the task panicked
/// or was aborted. Dropping it detaches the task: it keeps running and its
/// output is dropped when it finishes. A handle stays on the thread of its
/// runtime (it is `!Send`), like the task.
pub struct JoinHandle<T> {
    /// Released by `drop` (with the join interest), not by its own drop.
    task: ManuallyDrop<TaskRef>,
    _marker: PhantomData<(T, *const ())>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: TaskRef) -> JoinHandle<T> {
        JoinHandle {
            task: ManuallyDrop::new(task),
            _marker: PhantomData,
        }
    }

    /// Asks the task to stop: its future is dropped the next time the loop
    /// would run it (not in the middle of a poll), and awaiting the handle
    /// then yields a [`JoinError`] for which [`JoinError::is_cancelled`] is
    /// true. Aborting a finished task does nothing.
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Whether the task's future has finished (completed, panicked or was
    /// aborted).
    pub fn is_finished(&self) -> bool {
        self.task.is_complete()
    }
}

impl<T> Unpin for JoinHandle<T> {}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `T` is the output type of the task's future: `spawn`
        // creates the handle with the future's output type, and the handle
        // never leaves the owner thread (it is !Send).
        unsafe { self.task.poll_join::<T>(cx.waker()) }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: `T` is the task's output type (`spawn` made the handle with
        // it) and the handle is on the owner thread (it is !Send); the
        // handle's reference is released here, and `ManuallyDrop` keeps the
        // field from releasing it again.
        unsafe { self.task.drop_join_handle::<T>() };
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("task", &self.task.header().id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// A task did not produce its output: it panicked or was aborted.
pub struct JoinError {
    repr: Repr,
}

/// One pointer wide, so that a task's output slot stays small.
enum Repr {
    Cancelled,
    Panic(Box<Mutex<Box<dyn Any + Send + 'static>>>),
}

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            repr: Repr::Panic(Box::new(Mutex::new(payload))),
        }
    }

    /// The task was aborted (or its runtime shut down) before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to re-raise with `std::panic::resume_unwind`.
    ///
    /// # Errors
    ///
    /// Gives the error back if the task was cancelled rather than panicked.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p.into_inner().unwrap_or_else(|e| e.into_inner())),
            Repr::Cancelled => Err(self),
        }
    }

    fn panic_message(&self) -> Option<String> {
        let Repr::Panic(p) = &self.repr else {
            return None;
        };
        let p = p.lock().unwrap_or_else(|e| e.into_inner());
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.repr, self.panic_message()) {
            (Repr::Cancelled, _) => f.write_str("task was cancelled"),
            (Repr::Panic(_), Some(msg)) => write!(f, "task panicked: {msg}"),
            (Repr::Panic(_), None) => f.write_str("task panicked"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for io::Error {
    fn from(e: JoinError) -> io::Error {
        io::Error::other(e)
    }
}
