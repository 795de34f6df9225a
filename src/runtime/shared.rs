//! The part of a runtime other threads may touch: the remote run queue, the
//! parked flag, and the eventfd that ends the loop's wait.
//!
//! # Unpark protocol
//!
//! The loop, before sleeping: `parked = true` (SeqCst), then reads
//! `remote_pending` (SeqCst); if set it does not sleep. A remote waker: push
//! under the lock, `remote_pending = true` (SeqCst), then
//! `parked.swap(false)` (SeqCst) and, if it was parked, writes the eventfd.
//! With both sides sequentially consistent, at least one of them sees the
//! other's write: either the loop sees the pending task, or the waker sees
//! the loop parked and writes the eventfd whose read the ring has armed.
//! Wakes while the loop is running cost no syscall. Clearing `parked` on
//! waking needs no ordering (see [`Shared::unparked`]).

use super::task::TaskRef;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::Wake;

pub(crate) struct Shared {
    /// This runtime's number in the process (not reused before 2^32 runtimes).
    pub(crate) id: u32,
    remote: Mutex<Remote>,
    remote_pending: AtomicBool,
    parked: AtomicBool,
    eventfd: OwnedFd,
    /// The ring fd of this runtime (-1 on epoll), for other cores'
    /// `IORING_OP_MSG_RING` wakes.
    pub(crate) ring_fd: std::sync::atomic::AtomicI32,
    /// Wakes that arrived through the remote queue.
    pub(crate) remote_wakes: AtomicU64,
    /// Eventfd writes made to end a wait.
    pub(crate) unparks: AtomicU64,
}

struct Remote {
    queue: Vec<TaskRef>,
    /// Work sent by other threads to run on this loop (`spawn_on`).
    jobs: Vec<Job>,
    closed: bool,
}

/// A closure another thread wants run on this runtime's loop.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

impl Shared {
    pub(crate) fn new() -> io::Result<Shared> {
        // SAFETY: plain syscall; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        static NEXT_ID: AtomicU32 = AtomicU32::new(1);
        Ok(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            remote: Mutex::new(Remote {
                queue: Vec::new(),
                jobs: Vec::new(),
                closed: false,
            }),
            remote_pending: AtomicBool::new(false),
            ring_fd: std::sync::atomic::AtomicI32::new(-1),
            parked: AtomicBool::new(false),
            // SAFETY: `fd` is a fresh eventfd we own.
            eventfd: unsafe { OwnedFd::from_raw_fd(fd) },
            remote_wakes: AtomicU64::new(0),
            unparks: AtomicU64::new(0),
        })
    }

    /// A second handle on the eventfd, for the driver's armed read.
    pub(crate) fn eventfd(&self) -> io::Result<OwnedFd> {
        self.eventfd.try_clone()
    }

    /// Queues a task woken off the loop's thread (or outside `block_on`).
    pub(crate) fn schedule_remote(&self, task: TaskRef) {
        let mut remote = self.remote.lock().unwrap_or_else(PoisonError::into_inner);
        if remote.closed {
            drop(remote);
            drop(task);
            return;
        }
        remote.queue.push(task);
        drop(remote);
        self.remote_wakes.fetch_add(1, Ordering::Relaxed);
        self.remote_pending.store(true, Ordering::SeqCst);
        self.unpark();
    }

    /// Queues `job` to run on this runtime's loop (from any thread).
    ///
    /// # Errors
    ///
    /// Gives the job back if the runtime has shut down.
    pub(crate) fn push_job(&self, job: Job) -> Result<(), Job> {
        let mut remote = self.remote.lock().unwrap_or_else(PoisonError::into_inner);
        if remote.closed {
            return Err(job);
        }
        remote.jobs.push(job);
        drop(remote);
        self.remote_pending.store(true, Ordering::SeqCst);
        self.unpark();
        Ok(())
    }

    /// Ends the loop's wait if it is parked.
    pub(crate) fn unpark(&self) {
        // The SeqCst load is a plain load on x86: no locked instruction
        // when the loop is running. Racing wakers may both write: harmless.
        if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
            self.unparks.fetch_add(1, Ordering::Relaxed);
            // From another ringloop loop (another core): post a CQE into
            // the sleeping ring with MSG_RING where the kernel has it.
            let target = self.ring_fd.load(Ordering::Relaxed);
            if target >= 0 && super::context::try_msg_ring_wake(target) {
                return;
            }
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our own eventfd. An
            // error (EAGAIN at counter overflow) means a wake is pending anyway.
            unsafe {
                libc::write(
                    self.eventfd.as_raw_fd(),
                    (&one as *const u64).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
        }
    }

    /// Loop side: about to sleep. Returns false if work arrived meanwhile
    /// (a remote task, or a wake of the root future flagged in `root`).
    pub(crate) fn park(&self, root: &AtomicBool) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        if self.remote_pending.load(Ordering::SeqCst) || root.load(Ordering::SeqCst) {
            self.parked.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Loop side: awake again. A plain store is enough: a waker that still
    /// reads `true` writes one eventfd too many (a spurious wake), and the
    /// next `park` publishes `true` with SeqCst again before it checks.
    pub(crate) fn unparked(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }

    /// Whether another thread may have queued a task or a job since the
    /// last [`take_remote`](Self::take_remote). A relaxed load: a wake it
    /// misses is seen at the next turn, and the park protocol re-checks
    /// with SeqCst before sleeping.
    pub(crate) fn remote_may_be_pending(&self) -> bool {
        self.remote_pending.load(Ordering::Relaxed)
    }

    /// Moves remotely woken tasks into `out`. The loop calls it only when
    /// [`remote_may_be_pending`](Self::remote_may_be_pending) says so, which
    /// keeps the common case (nothing remote) free of a locked instruction.
    pub(crate) fn take_remote(&self, out: &mut Vec<TaskRef>, jobs: &mut Vec<Job>) {
        if self.remote_pending.swap(false, Ordering::SeqCst) {
            let mut remote = self.remote.lock().unwrap_or_else(PoisonError::into_inner);
            out.append(&mut remote.queue);
            jobs.append(&mut remote.jobs);
        }
    }

    /// Refuses further remote wakes and returns what was queued.
    pub(crate) fn close(&self) -> (Vec<TaskRef>, Vec<Job>) {
        let mut remote = self.remote.lock().unwrap_or_else(PoisonError::into_inner);
        remote.closed = true;
        (
            std::mem::take(&mut remote.queue),
            std::mem::take(&mut remote.jobs),
        )
    }
}

/// Live runtimes by id, for wakes from other threads. A task records only
/// its runtime's id (no reference count per task); a remote wake looks the
/// runtime up here, and finds nothing once the runtime is gone.
fn registry() -> &'static Mutex<HashMap<u32, Arc<Shared>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<u32, Arc<Shared>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Makes `shared` reachable by its id.
pub(crate) fn register(shared: &Arc<Shared>) {
    registry()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(shared.id, Arc::clone(shared));
}

/// Forgets runtime `id` (at shutdown).
pub(crate) fn unregister(id: u32) {
    let removed = registry()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
    drop(removed);
}

/// Queues `task` on runtime `id` from any thread; drops it if the runtime
/// is gone.
pub(crate) fn schedule_remote(id: u32, task: TaskRef) {
    let shared = registry()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&id)
        .cloned();
    match shared {
        Some(shared) => shared.schedule_remote(task),
        None => drop(task),
    }
}

/// The waker of `block_on`'s root future: a flag plus an unpark.
pub(crate) struct RootWaker {
    pub(crate) woken: AtomicBool,
    shared: Arc<Shared>,
}

impl RootWaker {
    pub(crate) fn new(shared: Arc<Shared>) -> RootWaker {
        RootWaker {
            woken: AtomicBool::new(true),
            shared,
        }
    }
}

impl Wake for RootWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.shared.unpark();
    }
}
