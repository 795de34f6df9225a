//! Task cells and their wakers.
//!
//! A spawned future lives in one heap cell: a [`Header`] followed by the
//! stage (the future, then its output). The cell is reference counted; the
//! references are: the runtime's task table (while the future is alive), the
//! [`JoinHandle`](super::JoinHandle), each [`Waker`], and a run-queue entry.
//!
//! # State word
//!
//! ```text
//!  bit 0  SCHEDULED  the task is in a run queue (at most one entry exists)
//!  bit 1  COMPLETE   the future is gone; wakes are ignored
//!  bits 2.. refcount
//! ```
//!
//! # Threads
//!
//! Futures need not be `Send`, yet wakers are `Send + Sync` for real. The
//! split that makes this sound: **only the owner thread touches the stage
//! and the owner-only fields** (`slot`, `cancelled`, `join_*`). Another
//! thread may only change the state word (clone, drop, schedule) and push
//! the task to the runtime's remote queue. The future and the output are
//! always dropped by the owner: the task table keeps the cell alive until
//! the future is dropped (on completion, abort, or runtime shutdown) and the
//! join handle drops the output. So when a foreign thread drops the last
//! reference, the cell holds nothing but its header, and freeing it there is
//! fine.
//!
//! Waking on the owner thread pushes to the local run queue with one CAS;
//! waking from anywhere else goes through [`Shared::schedule_remote`].

use super::context;
use super::core::Core;
use super::join::JoinError;
use super::shared;
use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

const SCHEDULED: usize = 1;
const COMPLETE: usize = 2;
const REF_ONE: usize = 4;
const MAX_REFS: usize = isize::MAX as usize;

pub(crate) struct Header {
    state: AtomicUsize,
    vtable: &'static Vtable,
    /// The owning runtime's id (see `shared::registry`).
    pub(crate) runtime: u32,
    /// The task's number in its runtime (for traces; wraps).
    pub(crate) id: u32,
    /// Owner only: index in the runtime's task table.
    pub(crate) slot: Cell<u32>,
    /// Owner only: `abort()` was called.
    cancelled: Cell<bool>,
    /// Owner only: a join handle exists and wants the output.
    join_interest: Cell<bool>,
    /// Owner only: the join handle's waker.
    join_waker: UnsafeCell<Option<Waker>>,
}

struct Vtable {
    /// Polls the future; true when the stage is now `Finished`.
    poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> bool,
    /// Drops the future (abort, shutdown); the stage becomes `Finished(Err)`.
    cancel: unsafe fn(NonNull<Header>),
    /// Moves a finished output into `*mut Poll<Result<T, JoinError>>`.
    take_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Drops whatever the stage holds.
    drop_stage: unsafe fn(NonNull<Header>),
    /// Frees the cell.
    dealloc: unsafe fn(NonNull<Header>),
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct TaskCell<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
}

/// One counted reference to a task cell.
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: off the owner thread a TaskRef is only moved, counted and pushed to
// the remote queue; everything that is not thread-safe in the cell is
// touched by the owner thread only (module docs).
unsafe impl Send for TaskRef {}

impl TaskRef {
    /// Allocates a task running `future`, already scheduled. Returns three
    /// references: the task table's, the join handle's and the run queue's.
    pub(crate) fn new<F>(future: F, id: u32, runtime: u32) -> [TaskRef; 3]
    where
        F: Future + 'static,
    {
        let cell = Box::new(TaskCell {
            header: Header {
                state: AtomicUsize::new(SCHEDULED | (3 * REF_ONE)),
                vtable: vtable::<F>(),
                runtime,
                id,
                slot: Cell::new(u32::MAX),
                cancelled: Cell::new(false),
                join_interest: Cell::new(true),
                join_waker: UnsafeCell::new(None),
            },
            stage: UnsafeCell::new(Stage::Running(future)),
        });
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        [TaskRef(ptr), TaskRef(ptr), TaskRef(ptr)]
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the reference keeps the cell alive; `Header` is the first
        // field of the repr(C) cell.
        unsafe { self.0.as_ref() }
    }

    /// # Safety
    /// `ptr` must carry one reference, which the new `TaskRef` takes over.
    unsafe fn from_raw(ptr: *const ()) -> TaskRef {
        // SAFETY: non-null: it is the data pointer of a waker we made from a live cell.
        TaskRef(unsafe { NonNull::new_unchecked(ptr as *mut Header) })
    }

    /// Whether the future has finished (or was dropped).
    pub(crate) fn is_complete(&self) -> bool {
        self.header().state.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// Schedules the task (for spawn and abort), adding a queue reference.
    pub(crate) fn schedule(&self) {
        self.header().schedule_by_ref(self.0);
    }

    /// Owner only: asks the task to drop its future at its next run.
    pub(crate) fn abort(&self) {
        if !self.is_complete() {
            self.header().cancelled.set(true);
            self.schedule();
        }
    }

    /// Owner only: runs the task once (it was popped from a run queue; this
    /// consumes the queue's reference). Returns whether it completed.
    pub(crate) fn run(self, core: &Core) -> bool {
        let header = self.header();
        let prev = header.state.fetch_and(!SCHEDULED, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            return false;
        }
        let done = if header.cancelled.get() {
            // SAFETY: owner thread; the cell is alive (we hold a reference).
            unsafe { (header.vtable.cancel)(self.0) };
            true
        } else {
            // Borrow the queue's reference as the waker: no count change.
            let raw = RawWaker::new(self.0.as_ptr() as *const (), &WAKER_VTABLE);
            // SAFETY: the vtable upholds the RawWaker contract; ManuallyDrop
            // keeps us from releasing a reference the waker does not own.
            let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw) });
            let mut cx = Context::from_waker(&waker);
            let prev_task = context::set_current_task(u64::from(header.id));
            // SAFETY: owner thread; the cell is alive.
            let done = unsafe { (header.vtable.poll)(self.0, &mut cx) };
            context::set_current_task(prev_task);
            done
        };
        if done {
            self.finish(core);
        }
        done
    }

    /// Owner only: the future is gone. Hands the output to the join handle
    /// (or drops it), and releases both the table's reference and `self`
    /// while setting COMPLETE, in one atomic step.
    fn finish(self, core: &Core) {
        let ptr = ManuallyDrop::new(self).0;
        // SAFETY: we own a reference (`self`, now unmanaged), so the cell lives.
        let header = unsafe { ptr.as_ref() };
        let Some(table_ref) = core.remove_task(header.slot.get()) else {
            unreachable!("a task that has not finished is in the task table")
        };
        std::mem::forget(table_ref);
        // COMPLETE is clear, so subtracting `2 * REF_ONE - COMPLETE` releases
        // two references and sets it without borrowing from other bits.
        const RELEASE: usize = 2 * REF_ONE - COMPLETE;
        if header.join_interest.get() {
            // SAFETY: owner thread.
            let waker = unsafe { (*header.join_waker.get()).take() };
            // The join handle holds a reference: the count stays above zero.
            header.state.fetch_sub(RELEASE, Ordering::AcqRel);
            if let Some(waker) = waker {
                waker.wake();
            }
        } else {
            // SAFETY: owner thread; nobody will read the output.
            unsafe { (header.vtable.drop_stage)(ptr) };
            let prev = header.state.fetch_sub(RELEASE, Ordering::AcqRel);
            if prev / REF_ONE == 2 {
                // SAFETY: those were the last two references.
                unsafe { (header.vtable.dealloc)(ptr) };
            }
        }
    }

    /// Owner only: drops the future now (runtime shutdown).
    pub(crate) fn shutdown(self, core: &Core) {
        if !self.is_complete() {
            // SAFETY: owner thread; the cell is alive.
            unsafe { (self.header().vtable.cancel)(self.0) };
            self.finish(core);
        }
    }

    /// Owner only (join handle): takes the output if finished, else stores
    /// the waker.
    ///
    /// # Safety
    /// `T` must be the output type of the task's future.
    pub(crate) unsafe fn poll_join<T>(&self, waker: &Waker) -> Poll<Result<T, JoinError>> {
        let header = self.header();
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        if self.is_complete() {
            // SAFETY: owner thread; `T` matches (caller's contract).
            unsafe { (header.vtable.take_output)(self.0, &mut out as *mut _ as *mut ()) };
            if out.is_pending() {
                unreachable!("a join handle polled after it returned Ready");
            }
        } else {
            // SAFETY: owner thread.
            let slot = unsafe { &mut *header.join_waker.get() };
            match slot {
                Some(w) if w.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        }
        out
    }

    /// Owner only (join handle drop): the output is no longer wanted.
    pub(crate) fn drop_join_interest(&self) {
        let header = self.header();
        header.join_interest.set(false);
        // SAFETY: owner thread.
        drop(unsafe { (*header.join_waker.get()).take() });
        if self.is_complete() {
            // SAFETY: owner thread; the future is gone, only an output may remain.
            unsafe { (header.vtable.drop_stage)(self.0) };
        }
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> TaskRef {
        self.header().add_ref();
        TaskRef(self.0)
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        let prev = self.header().state.fetch_sub(REF_ONE, Ordering::AcqRel);
        if prev / REF_ONE == 1 {
            // SAFETY: that was the last reference; by the module's invariant
            // the stage holds no future and no output any more.
            unsafe { (self.header().vtable.dealloc)(self.0) };
        }
    }
}

impl Header {
    fn add_ref(&self) {
        let prev = self.state.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > MAX_REFS {
            std::process::abort();
        }
    }

    /// Sets SCHEDULED and enqueues a new reference, unless already
    /// scheduled or complete.
    fn schedule_by_ref(&self, ptr: NonNull<Header>) {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if cur & (SCHEDULED | COMPLETE) != 0 {
                return;
            }
            match self.state.compare_exchange_weak(
                cur,
                (cur | SCHEDULED) + REF_ONE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        enqueue(TaskRef(ptr));
    }

    /// As `schedule_by_ref`, consuming the caller's reference.
    fn schedule_owned(&self, task: TaskRef) {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if cur & (SCHEDULED | COMPLETE) != 0 {
                drop(task);
                return;
            }
            match self.state.compare_exchange_weak(
                cur,
                cur | SCHEDULED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        enqueue(task);
    }
}

/// Puts a scheduled task in its runtime's local queue when we are on that
/// runtime's thread inside it, or in its remote queue otherwise.
fn enqueue(task: TaskRef) {
    let mut task = Some(task);
    context::with_core(|core| {
        if let Some(t) = task.take() {
            task = core.try_schedule_local(t);
        }
    });
    if let Some(task) = task {
        let runtime = task.header().runtime;
        shared::schedule_remote(runtime, task);
    }
}

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned holds a reference, so the cell is alive.
    let header = unsafe { &*(ptr as *const Header) };
    header.add_ref();
    RawWaker::new(ptr, &WAKER_VTABLE)
}

unsafe fn waker_wake(ptr: *const ()) {
    // SAFETY: a waker owns one reference, which `wake` consumes.
    let task = unsafe { TaskRef::from_raw(ptr) };
    let header: *const Header = task.header();
    // SAFETY: `task` keeps the cell alive until `schedule_owned` consumes it.
    unsafe { (*header).schedule_owned(task) };
}

unsafe fn waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: the waker holds a reference, so the cell is alive.
    let header = unsafe { &*(ptr as *const Header) };
    // SAFETY: non-null, as it came from a live waker.
    header.schedule_by_ref(unsafe { NonNull::new_unchecked(ptr as *mut Header) });
}

unsafe fn waker_drop(ptr: *const ()) {
    // SAFETY: the waker owns one reference; dropping it releases it.
    drop(unsafe { TaskRef::from_raw(ptr) });
}

struct VtableFor<F>(std::marker::PhantomData<F>);

impl<F: Future + 'static> VtableFor<F> {
    const VTABLE: Vtable = Vtable {
        poll: poll::<F>,
        cancel: cancel::<F>,
        take_output: take_output::<F>,
        drop_stage: drop_stage::<F>,
        dealloc: dealloc::<F>,
    };
}

fn vtable<F: Future + 'static>() -> &'static Vtable {
    &VtableFor::<F>::VTABLE
}

/// # Safety
/// Owner thread; `ptr` is a live `TaskCell<F>`.
unsafe fn stage<'a, F: Future>(ptr: NonNull<Header>) -> &'a mut Stage<F> {
    // SAFETY: the caller guarantees the type and that only the owner thread
    // touches the stage, so this is the only reference.
    unsafe { &mut *ptr.cast::<TaskCell<F>>().as_ref().stage.get() }
}

/// Drops the running future in place; returns a panic its drop raised.
fn drop_future<F: Future>(stage: &mut Stage<F>) -> Option<Box<dyn std::any::Any + Send>> {
    catch_unwind(AssertUnwindSafe(|| *stage = Stage::Consumed)).err()
}

unsafe fn poll<F: Future>(ptr: NonNull<Header>, cx: &mut Context<'_>) -> bool {
    // SAFETY: forwarded from the caller (owner thread, live cell of F).
    let stage = unsafe { stage::<F>(ptr) };
    let Stage::Running(future) = stage else {
        return true;
    };
    // SAFETY: the future is never moved: it stays in the heap cell until it
    // is dropped in place.
    let future = unsafe { Pin::new_unchecked(future) };
    let result = match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
        Ok(Poll::Pending) => return false,
        Ok(Poll::Ready(output)) => match drop_future(stage) {
            None => Ok(output),
            Some(panic) => Err(JoinError::panic(panic)),
        },
        Err(panic) => {
            drop(drop_future(stage));
            Err(JoinError::panic(panic))
        }
    };
    // SAFETY: `drop_future` left `Consumed`, which owns nothing, so
    // overwriting it without running its drop glue loses nothing.
    unsafe { std::ptr::write(stage, Stage::Finished(result)) };
    true
}

unsafe fn cancel<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    let stage = unsafe { stage::<F>(ptr) };
    if let Stage::Running(_) = stage {
        let result = match drop_future(stage) {
            None => Err(JoinError::cancelled()),
            Some(panic) => Err(JoinError::panic(panic)),
        };
        *stage = Stage::Finished(result);
    }
}

unsafe fn take_output<F: Future>(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: forwarded from the caller.
    let stage = unsafe { stage::<F>(ptr) };
    if let Stage::Finished(_) = stage {
        let Stage::Finished(result) = std::mem::replace(stage, Stage::Consumed) else {
            unreachable!("matched Finished just above")
        };
        // SAFETY: the caller passes a `*mut Poll<Result<F::Output, JoinError>>`
        // holding `Pending`, which has nothing to drop, so overwriting it
        // without dropping it loses nothing.
        unsafe {
            std::ptr::write(
                dst as *mut Poll<Result<F::Output, JoinError>>,
                Poll::Ready(result),
            )
        };
    }
}

unsafe fn drop_stage<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    let stage = unsafe { stage::<F>(ptr) };
    if let Stage::Consumed = stage {
        return;
    }
    let old = std::mem::replace(stage, Stage::Consumed);
    // An output's drop may panic; that must not unwind through the loop.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(old)));
}

unsafe fn dealloc<F: Future>(ptr: NonNull<Header>) {
    let cell = ptr.cast::<TaskCell<F>>().as_ptr();
    // SAFETY: the cell was made by `Box::leak` in `TaskRef::new` as a
    // `TaskCell<F>`, and this is the last reference. In every path that
    // reaches here the stage is `Consumed` (the module's invariant: the
    // future and the output are dropped by the owner first), which owns
    // nothing: only the header needs dropping before the memory is freed.
    // Anything else is dropped the ordinary way, to stay safe regardless.
    unsafe {
        if matches!(*(*cell).stage.get(), Stage::Consumed) {
            std::ptr::drop_in_place(std::ptr::addr_of_mut!((*cell).header));
            std::alloc::dealloc(cell.cast(), std::alloc::Layout::new::<TaskCell<F>>());
        } else {
            drop(Box::from_raw(cell));
        }
    }
}
