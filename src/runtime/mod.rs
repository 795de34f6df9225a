//! The runtime: [`Runtime`], [`Builder`], [`spawn`], [`JoinHandle`] and the loop.
//!
//! One runtime = one thread, one io_uring, one loop. Tasks are polled on the
//! thread that runs [`Runtime::block_on`]; their futures need not be `Send`.
//! Their wakers are `Send + Sync` nonetheless: a wake from another thread goes
//! to the runtime's remote queue and ends the loop's sleep through an eventfd
//! the ring is reading. Several runtimes on several threads are independent.
//!
//! Files: `core.rs` (the loop), `task.rs` (task cells and wakers, with the
//! threading argument), `shared.rs` (remote queue and unpark protocol),
//! `join.rs`, `blocking.rs`, `stats.rs`, `context.rs` (thread-local state).

mod blocking;
pub(crate) mod context;
mod core;
mod cores;
mod join;
mod oneshot;
mod shared;
mod stats;
mod task;

pub use self::blocking::spawn_blocking;
pub use self::cores::{cores, current_core, spawn_on, RemoteJoinHandle};
pub use self::join::{JoinError, JoinHandle};
pub use self::stats::Stats;
pub use crate::driver::setup::{SetupFlags, UringUnavailable};

use self::core::Core;
use self::shared::Shared;
use crate::driver::epoll::Epoll;
use crate::driver::setup::RingConfig;
use crate::driver::uring::Uring;
use crate::driver::Driver as Backend;
use crate::trace::{Event, Observer};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A ringloop runtime: one io_uring and the loop that drives it, on the
/// thread that created it.
///
/// Dropping the runtime drops every task's future (cancelling their I/O),
/// then waits — up to five seconds — for the kernel to finish with every
/// buffer it was given before freeing it.
pub struct Runtime {
    core: Rc<Core>,
}

impl Runtime {
    /// A runtime with the default settings ([`Builder::new`]).
    ///
    /// # Errors
    ///
    /// If io_uring is missing or forbidden, an error whose kind is
    /// `Unsupported` or `PermissionDenied` and whose inner error is a
    /// [`UringUnavailable`] naming the cause; or the error of `eventfd`.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `future` to completion on this thread, running spawned tasks and
    /// driving I/O and timers meanwhile; returns its output.
    ///
    /// Tasks still running when it returns stay in the runtime and run again
    /// at the next `block_on`.
    ///
    /// # Panics
    ///
    /// If called from inside a runtime (nested `block_on`), or in a child
    /// process forked after the runtime was built; if the future
    /// panics (the panic propagates); if the ring itself fails with an error
    /// that is not transient (a kernel or ringloop bug: `EFAULT`, `EBADF`).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.core.block_on(future)
    }

    /// Counters of this runtime.
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// The io_uring setup flags the kernel accepted.
    pub fn setup_flags(&self) -> SetupFlags {
        self.core.setup_flags()
    }

    /// The I/O driver this runtime runs on ([`Driver::Uring`] or
    /// [`Driver::Epoll`], never `Auto`).
    pub fn driver(&self) -> Driver {
        self.core.driver_kind()
    }

    /// Whether the kernel supports io_uring opcode `opcode` (probed once).
    pub fn supports_opcode(&self, opcode: u8) -> bool {
        self.core.driver.borrow().supports(opcode)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.core.is_forked_copy() {
            // In a forked child the ring's memory is not mapped: touching it
            // would crash. The child's copy is leaked instead (its kernel
            // resources belong to the parent; the child's fds close at exit).
            std::mem::forget(Rc::clone(&self.core));
            return;
        }
        self.core.shutdown();
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("setup_flags", &self.setup_flags())
            .finish()
    }
}

/// Configures a [`Runtime`].
///
/// ```no_run
/// let rt = ringloop::Builder::new().entries(1024).build()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Builder {
    driver: Driver,
    submit_each_op: bool,
    threads: usize,
    pin_threads: bool,
    attach_wq: Option<std::os::fd::RawFd>,
    entries: u32,
    cq_entries: Option<u32>,
    flags: SetupFlags,
    observer: Option<Observer>,
    hot_files: u32,
}

impl Builder {
    /// 256 SQ entries, the kernel's default CQ size (twice that), and the
    /// modern setup flags ([`SetupFlags::DEFAULT`]) where the kernel has them.
    pub fn new() -> Builder {
        Builder {
            driver: Driver::Auto,
            submit_each_op: false,
            threads: 1,
            pin_threads: false,
            attach_wq: None,
            entries: 256,
            cq_entries: None,
            flags: SetupFlags::DEFAULT,
            observer: None,
            hot_files: crate::fs::hot::DEFAULT_SLOTS,
        }
    }

    /// Size of the submission queue (rounded up to a power of two by the
    /// kernel). A small ring works — a full SQ is flushed, not an error —
    /// but costs extra `io_uring_enter` calls.
    pub fn entries(mut self, entries: u32) -> Builder {
        self.entries = entries;
        self
    }

    /// Size of the completion queue (at least `entries`). CQEs beyond it
    /// wait in the kernel's overflow list and are drained by the loop.
    pub fn cq_entries(mut self, cq_entries: u32) -> Builder {
        self.cq_entries = Some(cq_entries);
        self
    }

    /// io_uring setup flags to ask for; flags the kernel refuses are dropped
    /// one by one.
    pub fn setup_flags(mut self, flags: SetupFlags) -> Builder {
        self.flags = flags;
        self
    }

    /// Which I/O driver to use (default [`Driver::Auto`]: io_uring, or
    /// epoll where io_uring is unavailable).
    pub fn driver(mut self, driver: Driver) -> Builder {
        self.driver = driver;
        self
    }

    /// A deliberately naive io_uring mode for comparisons: enter the kernel
    /// after every op instead of once per park, as a runtime that does not
    /// batch would. Off by default; ignored on epoll.
    pub fn submit_each_op(mut self, naive: bool) -> Builder {
        self.submit_each_op = naive;
        self
    }

    /// Slots of the fixed-file table the runtime registers for hot files
    /// (default 64; 0 turns hot files off). A [`File`](crate::fs::File)
    /// that has done 128 ops is put in a free slot, once, so that its later
    /// ops name the slot instead of the fd and the kernel skips the
    /// descriptor lookup and file reference count each op costs otherwise
    /// (what [`FixedFiles`](crate::fs::FixedFiles) does on request). The
    /// table is registered at the first hot file; io_uring keeps one file
    /// table per ring, so on a runtime that registers a `FixedFiles` of its
    /// own, hot files are off (see `FixedFiles::new`). A full table, or a
    /// kernel that refuses it, leaves files on their fds.
    pub fn hot_files(mut self, slots: u32) -> Builder {
        self.hot_files = slots;
        self
    }

    /// Calls `observer` at each step of the runtime (see [`crate::trace`]).
    pub fn on_event(mut self, observer: impl Fn(&Event) + 'static) -> Builder {
        self.observer = Some(Rc::new(observer));
        self
    }

    /// Sets up the ring and returns the runtime.
    ///
    /// # Errors
    ///
    /// As for [`Runtime::new`]; `InvalidInput` if the kernel rejects the sizes.
    pub fn build(self) -> io::Result<Runtime> {
        let shared = Arc::new(Shared::new()?);
        let config = RingConfig {
            entries: self.entries,
            cq_entries: self.cq_entries,
            flags: self.flags,
            submit_each_op: self.submit_each_op,
            attach_wq: self.attach_wq,
        };
        let choice = match self.driver {
            Driver::Auto => Driver::from_env()?,
            chosen => chosen,
        };
        let uring = || Uring::new(&config, shared.eventfd()?, self.observer.clone());
        let epoll = || Epoll::new(shared.eventfd()?, self.observer.clone());
        let driver = match choice {
            Driver::Uring => Backend::Uring(uring()?),
            Driver::Epoll => Backend::Epoll(epoll()?),
            Driver::Auto => match uring() {
                Ok(u) => Backend::Uring(u),
                Err(e) if is_unavailable(&e) => {
                    say_fallback_once(&e);
                    Backend::Epoll(epoll()?)
                }
                Err(e) => return Err(e),
            },
        };
        Ok(Runtime {
            core: Rc::new(Core::new(driver, shared, self.observer, self.hot_files)),
        })
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

/// The I/O model a runtime runs on.
///
/// Chosen with [`Builder::driver`]; when left at `Auto`, the environment
/// variable `RINGLOOP_DRIVER=uring|epoll|auto` decides, and `auto` means
/// io_uring where it can be set up, epoll otherwise — saying so once on
/// stderr with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Driver {
    /// Completion model: io_uring.
    Uring,
    /// Readiness model: epoll. Provided buffer rings, `SEND_ZC`, registered
    /// buffers and files are io_uring features and fail with `Unsupported`
    /// here; everything else works the same.
    Epoll,
    /// io_uring if available, else epoll.
    Auto,
}

impl Driver {
    fn from_env() -> io::Result<Driver> {
        match std::env::var("RINGLOOP_DRIVER") {
            Err(_) => Ok(Driver::Auto),
            Ok(v) => match v.trim() {
                "" | "auto" => Ok(Driver::Auto),
                "uring" | "io_uring" => Ok(Driver::Uring),
                "epoll" => Ok(Driver::Epoll),
                other => Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("RINGLOOP_DRIVER={other:?}: expected uring, epoll or auto"),
                )),
            },
        }
    }
}

/// Whether `err` says io_uring cannot be used here (as opposed to, say, a
/// bad ring size).
fn is_unavailable(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.is::<UringUnavailable>())
}

fn say_fallback_once(err: &io::Error) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| eprintln!("ringloop: {err}; using the epoll driver"));
}

/// Spawns `future` as a task on the current runtime.
///
/// The future need not be `Send`; it runs on this thread. The task starts at
/// the loop's next turn and runs until it finishes, is aborted, or the
/// runtime is dropped, whether or not the handle is kept.
///
/// # Panics
///
/// Outside a ringloop runtime (`block_on`).
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    context::with_core(|core| core.spawn(future))
        .expect("ringloop::spawn must be called inside a ringloop runtime (Runtime::block_on)")
}

/// Counters of the current runtime.
///
/// # Panics
///
/// Outside a ringloop runtime; use [`Runtime::stats`] there.
pub fn stats() -> Stats {
    context::with_core(|core| core.stats())
        .expect("ringloop::stats must be called inside a ringloop runtime")
}

/// Lets other tasks run: returns `Pending` once, after rescheduling itself
/// at the back of the run queue.
pub async fn yield_now() {
    struct YieldNow(bool);

    impl Future for YieldNow {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    YieldNow(false).await
}
