//! Thread-per-core: one thread, one ring, one loop per core.
//!
//! [`Builder::run`] (or [`cores`]) starts `n` threads, each with its own
//! runtime built from the same settings, optionally pinned to a CPU, and
//! runs `f(core)` as each one's root future; it returns every output in
//! core order, or re-raises the first panic. The rings share the kernel's
//! io-wq worker pool (`IORING_SETUP_ATTACH_WQ` on core 0's ring), so `n`
//! cores do not start `n` pools of kernel workers.
//!
//! Cores talk through `Send` values: [`spawn_on`] runs a `Send` future on
//! another core and returns a `Send` handle to its output; any
//! runtime-agnostic channel works too, because wakers are honest. A job
//! for another core goes into that runtime's remote queue and ends its
//! sleep through its eventfd (the same path as every remote wake).
//!
//! Start-up protocol: core 0 builds its runtime first and reports its ring
//! fd; the other cores build theirs attached to it; once every core has
//! reported (or one failed, and then all stop), each core learns the whole
//! group and starts. Core 0 keeps its ring open until every core is built.

use super::oneshot;
use super::shared::Shared;
use super::{Builder, Driver, JoinError, Runtime};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::panic::resume_unwind;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The runtimes of one [`Builder::run`], by core.
struct Group {
    cores: Vec<Arc<Shared>>,
}

thread_local! {
    static CURRENT: RefCell<Option<(Arc<Group>, usize)>> = const { RefCell::new(None) };
}

/// What a core reports once its runtime is built: its remote side and its
/// ring fd (for the others' `ATTACH_WQ`), or why it could not be built.
type Built = (usize, io::Result<(Arc<Shared>, Option<RawFd>)>);

/// Settings every core's runtime is built with (the `Send` part of a
/// `Builder`).
#[derive(Clone, Copy)]
struct Settings {
    driver: Driver,
    entries: u32,
    cq_entries: Option<u32>,
    flags: super::SetupFlags,
    submit_each_op: bool,
    hot_files: u32,
    pin: bool,
}

impl Settings {
    fn build(self, attach_wq: Option<RawFd>) -> io::Result<Runtime> {
        let mut builder = Builder::new()
            .driver(self.driver)
            .entries(self.entries)
            .setup_flags(self.flags)
            .submit_each_op(self.submit_each_op)
            .hot_files(self.hot_files);
        builder.cq_entries = self.cq_entries;
        builder.attach_wq = attach_wq;
        builder.build()
    }
}

impl Builder {
    /// How many cores [`Builder::run`] starts (default 1).
    pub fn threads(mut self, n: usize) -> Builder {
        self.threads = n.max(1);
        self
    }

    /// Pin core `i`'s thread to CPU `i % online CPUs` (default: off).
    pub fn pin_threads(mut self, pin: bool) -> Builder {
        self.pin_threads = pin;
        self
    }

    /// Runs `f(core)` on each of [`Builder::threads`] cores, each with its
    /// own runtime, and returns their outputs in core order.
    ///
    /// # Errors
    ///
    /// If a runtime cannot be built (the first error); `InvalidInput` if an
    /// observer was set (observers are per thread: set one inside `f`).
    ///
    /// # Panics
    ///
    /// Re-raises the panic of a core's root future after every core ended.
    pub fn run<F, Fut>(self, f: F) -> io::Result<Vec<Fut::Output>>
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        if self.observer.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Builder::run starts one runtime per thread: set observers per thread",
            ));
        }
        let n = self.threads;
        let settings = Settings {
            driver: self.driver,
            entries: self.entries,
            cq_entries: self.cq_entries,
            flags: self.flags,
            submit_each_op: self.submit_each_op,
            hot_files: self.hot_files,
            pin: self.pin_threads,
        };
        let f = Arc::new(f);
        let (built_tx, built_rx) = mpsc::channel::<Built>();
        let mut go = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        let mut attach = None;
        let mut shareds: Vec<Option<Arc<Shared>>> = vec![None; n];
        let mut first_error = None;
        for core in 0..n {
            let (go_tx, go_rx) = mpsc::channel::<Option<Arc<Group>>>();
            go.push(go_tx);
            let (f, built_tx) = (Arc::clone(&f), built_tx.clone());
            let thread = std::thread::Builder::new()
                .name(format!("ringloop-core-{core}"))
                .spawn(move || core_main(core, settings, attach, f, built_tx, go_rx))?;
            threads.push(thread);
            // Build one at a time: core 0's ring fd is the others' io-wq.
            let (index, built) = built_rx.recv().expect("a core reports once");
            match built {
                Ok((shared, ring_fd)) => {
                    if index == 0 {
                        attach = ring_fd;
                    }
                    shareds[index] = Some(shared);
                }
                Err(e) => {
                    first_error = Some(e);
                    break;
                }
            }
        }
        let group = match first_error {
            None => Some(Arc::new(Group {
                cores: shareds
                    .into_iter()
                    .map(|s| s.expect("every core built"))
                    .collect(),
            })),
            Some(_) => None,
        };
        for tx in &go {
            let _ = tx.send(group.clone());
        }
        let mut outputs = Vec::with_capacity(n);
        let mut panic = None;
        for thread in threads {
            match thread.join() {
                Ok(Some(output)) => outputs.push(output),
                Ok(None) => {}
                Err(p) => {
                    panic.get_or_insert(p);
                }
            }
        }
        if let Some(p) = panic {
            resume_unwind(p);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(outputs),
        }
    }
}

fn core_main<F, Fut>(
    core: usize,
    settings: Settings,
    attach: Option<RawFd>,
    f: Arc<F>,
    built: mpsc::Sender<Built>,
    go: mpsc::Receiver<Option<Arc<Group>>>,
) -> Option<Fut::Output>
where
    F: Fn(usize) -> Fut,
    Fut: Future,
{
    if settings.pin {
        pin_to_cpu(core);
    }
    let rt = match settings.build(attach) {
        Ok(rt) => rt,
        Err(e) => {
            let _ = built.send((core, Err(e)));
            return None;
        }
    };
    let ring_fd = rt.core.driver.borrow().uring().ok().map(|u| u.ring_fd());
    let _ = built.send((core, Ok((Arc::clone(&rt.core.shared), ring_fd))));
    let group = go.recv().ok().flatten()?;
    CURRENT.with(|c| *c.borrow_mut() = Some((group, core)));
    let output = rt.block_on(f(core));
    CURRENT.with(|c| *c.borrow_mut() = None);
    Some(output)
}

fn pin_to_cpu(core: usize) {
    // SAFETY: sysconf has no memory-safety preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes inside
    // it; sched_setaffinity only reads it. Failure leaves us unpinned.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core % cpus, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Runs `f(core)` on `n` cores with the default settings
/// (`Builder::new().threads(n).run(f)`).
///
/// # Errors
///
/// As for [`Builder::run`].
pub fn cores<F, Fut>(n: usize, f: F) -> io::Result<Vec<Fut::Output>>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    Builder::new().threads(n).run(f)
}

/// This thread's core number inside [`Builder::run`] / [`cores`].
pub fn current_core() -> Option<usize> {
    CURRENT.with(|c| c.borrow().as_ref().map(|(_, core)| *core))
}

/// Runs `future` on core `core` of the current group and returns a `Send`
/// handle to its output.
///
/// # Panics
///
/// Outside [`Builder::run`] / [`cores`], or if `core` is out of range.
pub fn spawn_on<F>(core: usize, future: F) -> RemoteJoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let target = CURRENT.with(|c| {
        let current = c.borrow();
        let (group, _) = current
            .as_ref()
            .expect("spawn_on must be called inside ringloop::cores / Builder::run");
        Arc::clone(group.cores.get(core).unwrap_or_else(|| {
            panic!(
                "spawn_on: no core {core} (the group has {})",
                group.cores.len()
            )
        }))
    });
    let (tx, rx) = oneshot::channel();
    let job = Box::new(move || {
        let task = super::spawn(future);
        super::spawn(async move { tx.send(task.await) });
    });
    if let Err(job) = target.push_job(job) {
        // The core has shut down: the future is dropped, the handle says so.
        drop(job);
    }
    RemoteJoinHandle(rx)
}

/// Handle to the output of a future run by [`spawn_on`]; `Send`, unlike
/// [`JoinHandle`](super::JoinHandle), so it can be awaited on any core.
pub struct RemoteJoinHandle<T>(oneshot::Receiver<Result<T, JoinError>>);

impl<T> Future for RemoteJoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|sent| sent.unwrap_or_else(|| Err(JoinError::cancelled())))
    }
}

impl<T> std::fmt::Debug for RemoteJoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RemoteJoinHandle")
    }
}
