//! The loop: run queue, live tasks, and the one wait.
//!
//! One turn of the loop ([`Core::tick`]):
//!
//! 1. move tasks woken from other threads into the local run queue;
//! 2. poll up to [`BUDGET`] runnable tasks (each may push SQEs);
//! 3. if nothing is runnable, **park**: one `io_uring_enter` submits every
//!    queued SQE and sleeps until a CQE arrives or the next timer is due;
//!    otherwise submit and reap without sleeping;
//! 4. wake the tasks whose CQEs were reaped and whose timers expired.
//!
//! `block_on` polls its root future whenever the root's waker fired, and
//! turns the loop otherwise.

use super::context;
use super::join::JoinHandle;
use super::shared::{RootWaker, Shared};
use super::stats::Stats;
use super::task::{LiveTasks, TaskRef};
use crate::driver::setup::SetupFlags;
use crate::driver::{Driver, Handle};
use crate::fs::hot::HotFiles;
use crate::time::TimerQueue;
use crate::trace::{Event, Observer, TaskId};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// Tasks polled per turn before the loop checks the ring and the timers.
pub(crate) const BUDGET: usize = 256;

#[derive(Default)]
struct CoreCounters {
    spawned: Cell<u64>,
    polled: Cell<u64>,
    local_wakes: Cell<u64>,
    parks: Cell<u64>,
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

pub(crate) struct Core {
    pub(crate) driver: Handle,
    pub(crate) timers: Rc<RefCell<TimerQueue>>,
    pub(crate) shared: Arc<Shared>,
    run_queue: RefCell<VecDeque<TaskRef>>,
    /// Every task whose future is alive (dropped at shutdown).
    pub(crate) tasks: LiveTasks,
    counters: CoreCounters,
    next_id: Cell<u32>,
    /// The task being polled (0: the root future), for traces.
    pub(crate) current_task: Cell<u64>,
    observer: Option<Observer>,
    /// The process that built this runtime (see `is_forked_copy`).
    pid: u32,
    /// Scratch space, reused every turn.
    wakers: RefCell<Vec<Waker>>,
    remote: RefCell<Vec<TaskRef>>,
    /// The ring's table for hot files (`fs::hot`).
    pub(crate) hot_files: HotFiles,
}

impl Core {
    pub(crate) fn new(
        driver: Driver,
        shared: Arc<Shared>,
        observer: Option<Observer>,
        hot_files: u32,
    ) -> Core {
        super::shared::register(&shared);
        if let Ok(uring) = driver.uring() {
            shared.ring_fd.store(uring.ring_fd(), Ordering::Relaxed);
        }
        Core {
            driver: Rc::new(RefCell::new(driver)),
            timers: Rc::new(RefCell::new(TimerQueue::default())),
            shared,
            run_queue: RefCell::new(VecDeque::with_capacity(BUDGET)),
            tasks: LiveTasks::new(),
            counters: CoreCounters::default(),
            next_id: Cell::new(1),
            current_task: Cell::new(0),
            observer,
            pid: std::process::id(),
            wakers: RefCell::new(Vec::new()),
            remote: RefCell::new(Vec::new()),
            hot_files: HotFiles::new(hot_files),
        }
    }

    #[inline]
    fn observe(&self, event: Event) {
        if let Some(observer) = &self.observer {
            observer(&event);
        }
    }

    /// Whether this is the copy of a runtime that a `fork` left in a child
    /// process (the ring's memory is not mapped there).
    pub(crate) fn is_forked_copy(&self) -> bool {
        std::process::id() != self.pid
    }

    pub(crate) fn setup_flags(&self) -> SetupFlags {
        match &*self.driver.borrow() {
            Driver::Uring(u) => u.flags(),
            Driver::Epoll(_) => SetupFlags::NONE,
        }
    }

    pub(crate) fn driver_kind(&self) -> super::Driver {
        match &*self.driver.borrow() {
            Driver::Uring(_) => super::Driver::Uring,
            Driver::Epoll(_) => super::Driver::Epoll,
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        let (d, e) = match &*self.driver.borrow() {
            Driver::Uring(u) => (u.counters, Default::default()),
            Driver::Epoll(e) => (Default::default(), e.counters),
        };
        Stats {
            tasks_spawned: self.counters.spawned.get(),
            tasks_polled: self.counters.polled.get(),
            local_wakes: self.counters.local_wakes.get(),
            remote_wakes: self.shared.remote_wakes.load(Ordering::Relaxed),
            unparks: self.shared.unparks.load(Ordering::Relaxed),
            parks: self.counters.parks.get(),
            ops_submitted: d.ops_submitted + e.ops,
            cancels: d.cancels,
            cqes_reaped: d.cqes_reaped,
            stale_cqes: d.stale_cqes,
            enters: d.enters,
            waits: d.waits,
            sq_full_flushes: d.sq_full_flushes,
            backlogged: d.backlogged,
            cq_overflow_drains: d.cq_overflow_drains,
            eintr_retries: d.eintr_retries + e.eintr,
            msg_ring_wakes: d.msg_ring_wakes_sent,
            epoll_waits: e.epoll_waits,
            epoll_ctls: e.epoll_ctls,
            attempts: e.attempts,
            eagain_retries: e.eagain_retries,
            skipped_attempts: e.skipped_attempts,
            wakeup_reads: e.wakeup_reads,
            timers_fired: self.timers.borrow().fired,
        }
    }

    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1).max(1));
        let [list_ref, join_ref, queue_ref] = TaskRef::new(future, id, self.shared.id);
        self.tasks.push(list_ref);
        self.run_queue.borrow_mut().push_back(queue_ref);
        bump(&self.counters.spawned);
        self.observe(Event::TaskSpawned {
            task: TaskId(u64::from(id)),
        });
        JoinHandle::new(join_ref)
    }

    /// Pushes `task` to the local run queue if it belongs to this runtime.
    pub(crate) fn try_schedule_local(&self, task: TaskRef) -> Option<TaskRef> {
        if task.header().runtime != self.shared.id {
            return Some(task);
        }
        let Ok(mut queue) = self.run_queue.try_borrow_mut() else {
            return Some(task);
        };
        let id = u64::from(task.header().id);
        queue.push_back(task);
        drop(queue);
        bump(&self.counters.local_wakes);
        self.observe(Event::TaskWoken {
            task: TaskId(id),
            remote: false,
        });
        None
    }

    /// Runs `future` to completion on this thread, running spawned tasks and
    /// driving the ring meanwhile.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        assert!(
            !self.is_forked_copy(),
            "Runtime::block_on in a forked child: the ring is not inherited \
             across fork (its memory is MADV_DONTFORK); build a new Runtime"
        );
        assert!(
            !context::is_entered(),
            "Runtime::block_on called from inside a ringloop runtime; \
             spawn the future or await it instead"
        );
        let _guard = context::enter(self);
        let root = Arc::new(RootWaker::new(Arc::clone(&self.shared)));
        let waker = Waker::from(Arc::clone(&root));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            // A relaxed look first spares the locked swap on the common
            // path (the root future not woken). A wake it misses is not
            // lost: `tick` does not park while `woken` is set (the SeqCst
            // check in `Shared::park`), so the next pass sees it.
            if root.woken.load(Ordering::Relaxed) && root.woken.swap(false, Ordering::SeqCst) {
                bump(&self.counters.polled);
                self.observe(Event::TaskPoll { task: TaskId(0) });
                let prev = self.current_task.replace(0);
                let poll = future.as_mut().poll(&mut cx);
                self.current_task.set(prev);
                self.observe(Event::TaskPolled {
                    task: TaskId(0),
                    ready: poll.is_ready(),
                });
                if let Poll::Ready(output) = poll {
                    return output;
                }
            }
            self.tick(&root.woken);
        }
    }

    /// One turn of the loop (module docs).
    fn tick(&self, root_woken: &AtomicBool) {
        self.take_remote();
        for _ in 0..BUDGET {
            let Some(task) = self.run_queue.borrow_mut().pop_front() else {
                break;
            };
            let id = TaskId(u64::from(task.header().id));
            bump(&self.counters.polled);
            self.observe(Event::TaskPoll { task: id });
            let ready = task.run(self);
            self.observe(Event::TaskPolled { task: id, ready });
        }
        let idle = self.run_queue.borrow().is_empty() && !root_woken.load(Ordering::SeqCst);
        self.turn(idle, root_woken);
    }

    fn take_remote(&self) {
        if !self.shared.remote_may_be_pending() {
            return; // the common case: one relaxed load per tick
        }
        let mut remote = self.remote.borrow_mut();
        let mut jobs = Vec::new();
        self.shared.take_remote(&mut remote, &mut jobs);
        for job in jobs {
            job(); // spawns onto this runtime (we are inside it)
        }
        if remote.is_empty() {
            return;
        }
        let mut queue = self.run_queue.borrow_mut();
        for task in remote.drain(..) {
            if let Some(observer) = &self.observer {
                observer(&Event::TaskWoken {
                    task: TaskId(u64::from(task.header().id)),
                    remote: true,
                });
            }
            queue.push_back(task);
        }
    }

    /// Submits, maybe sleeps, reaps, fires timers, wakes.
    fn turn(&self, may_park: bool, root_woken: &AtomicBool) {
        let next_timer = self.timers.borrow_mut().next_deadline();
        let now = next_timer.map(|_| Instant::now());
        let timeout = next_timer
            .zip(now)
            .map(|(d, n)| d.saturating_duration_since(n));
        let mut park = may_park && timeout.is_none_or(|t| !t.is_zero());
        if park && !self.shared.park(root_woken) {
            park = false;
        }
        let mut wakers = self.wakers.borrow_mut();
        let result = {
            let mut driver = self.driver.borrow_mut();
            if park {
                bump(&self.counters.parks);
                driver.arm_wakeup();
            }
            let result = driver.turn(park, timeout);
            driver.take_wakers(&mut wakers);
            result
        };
        if park {
            self.shared.unparked();
        }
        if let Err(e) = result {
            panic!("ringloop: io_uring_enter failed and the ring cannot continue: {e}");
        }
        if next_timer.is_some() {
            let fired = self
                .timers
                .borrow_mut()
                .fire_expired(Instant::now(), &mut wakers);
            if fired > 0 {
                self.observe(Event::TimersFired { count: fired });
            }
        }
        let batch = std::mem::take(&mut *wakers);
        drop(wakers);
        let mut batch = batch;
        for waker in batch.drain(..) {
            waker.wake();
        }
        // Give the (now empty) allocation back for the next turn.
        let mut wakers = self.wakers.borrow_mut();
        if wakers.capacity() < batch.capacity() {
            *wakers = batch;
        }
    }

    /// Drops every task's future, then refuses further wakes. Called once,
    /// by the runtime's drop; the driver drains its ops when it is dropped.
    pub(crate) fn shutdown(&self) {
        let _guard = context::enter(self);
        loop {
            let queued: Vec<TaskRef> = self.run_queue.borrow_mut().drain(..).collect();
            drop(queued);
            self.take_remote();
            let queued: Vec<TaskRef> = self.run_queue.borrow_mut().drain(..).collect();
            drop(queued);
            if self.tasks.is_empty() {
                break;
            }
            // Each `shutdown` takes its task off the list; a future's drop
            // may spawn tasks, which the next pass drops in turn.
            while let Some(task) = self.tasks.first() {
                task.shutdown(self);
            }
        }
        super::shared::unregister(self.shared.id);
        self.shared.ring_fd.store(-1, Ordering::Relaxed);
        let (queued, jobs) = self.shared.close();
        drop(queued);
        drop(jobs);
        let timers = std::mem::take(&mut *self.timers.borrow_mut());
        drop(timers);
    }
}
