//! Task cells, their wakers, and the runtime's list of live tasks.
//!
//! # Layout
//!
//! A spawned future lives in one heap cell, `repr(C)`:
//!
//! ```text
//!  TaskCell<F>
//!  ├─ Header   state word, vtable, runtime and task ids, the links of the
//!  │           live list, the join handle's waker
//!  └─ Stage    a union: `future: F` while the future is alive, then
//!              `output: Option<Result<F::Output, JoinError>>`
//! ```
//!
//! Which union field is in use needs no tag of its own: the future is alive
//! exactly while the task is in its runtime's [`LiveTasks`] list (the owner
//! takes it off the list just before dropping the future, so nothing can
//! drop it twice), and the output field is in use once COMPLETE is set in
//! the state word (the owner sets it after writing that field). The vtable
//! (one per future type) polls and cancels, and records the cell's layout
//! (to free it) and where the output is: the
//! [`JoinHandle<T>`](super::JoinHandle) knows only `T`, and takes or drops
//! the output there directly. For a trivial future the cell is 72 bytes.
//!
//! # References
//!
//! The cell is reference counted; the references are: the runtime's
//! [`LiveTasks`] list (while the future is alive), the join handle, each
//! [`Waker`], and a run-queue entry.
//!
//! # State word
//!
//! ```text
//!  bit 0  SCHEDULED      the task is in a run queue (at most one entry exists)
//!  bit 1  COMPLETE       the future is gone, the stage holds the output;
//!                        wakes are ignored
//!  bit 2  CANCELLED      `abort()` was called: drop the future at the next run
//!  bit 3  JOIN_INTEREST  the join handle exists and wants the output
//!  bits 4.. refcount
//! ```
//!
//! Only the owner thread sets COMPLETE and CANCELLED and clears
//! JOIN_INTEREST, each in an atomic step it makes anyway: clearing
//! JOIN_INTEREST is part of the handle releasing its reference.
//!
//! A task's life, on its owner thread: `spawn` allocates the cell with three
//! references (list, handle, queue), SCHEDULED and JOIN_INTEREST. Each run
//! clears SCHEDULED (one atomic subtraction) and polls. When the future
//! returns `Ready` (or panics, or is cancelled) it leaves the list and is
//! dropped at once, and its output is written to the stage if the handle
//! still wants it, else dropped. Leaving the list hands the list's
//! reference to the loop, and one atomic subtraction then releases it and
//! the queue's reference and sets COMPLETE. The handle takes the output,
//! and its drop releases its reference (clearing JOIN_INTEREST in the same
//! step) or, when the count shows it is the last one, frees the cell
//! without an atomic step (no other thread can hold a reference then).
//! That is two atomic read-modify-writes for a task that completes in its
//! first poll and is then joined.
//!
//! # Threads
//!
//! Futures need not be `Send`, yet wakers are `Send + Sync` for real. The
//! split that makes this sound: **only the owner thread touches the stage
//! and the owner-only fields** (`prev`, `next`, `join_waker`). Another
//! thread may only change the refcount and SCHEDULED (clone, drop,
//! schedule; each a read-modify-write that leaves the other bits as they
//! are) and push the task to the runtime's remote queue. The future
//! and the output are always dropped by the owner: the live list keeps the
//! cell alive until the future is dropped (on completion, abort, or runtime
//! shutdown), and the output is dropped by the join handle, or at
//! completion when there is no handle. So when a foreign thread drops the
//! last reference, the cell holds nothing to drop, and freeing it there is
//! fine.
//!
//! Waking on the owner thread pushes to the local run queue with one CAS;
//! waking from anywhere else goes through [`Shared::schedule_remote`].
//!
//! # Panics
//!
//! Each poll runs under `catch_unwind`, and the future is dropped inside the
//! same guarded call when it returns `Ready`: a panic in the future or in
//! its drop becomes a [`JoinError`] for the handle and never unwinds through
//! the loop. Dropping an output nobody wants is guarded the same way.
//!
//! [`Shared::schedule_remote`]: super::shared::Shared::schedule_remote

use super::context;
use super::core::Core;
use super::join::JoinError;
use super::shared;
use std::alloc::Layout;
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
const CANCELLED: usize = 4;
const JOIN_INTEREST: usize = 8;
const REF_ONE: usize = 16;
const MAX_REFS: usize = isize::MAX as usize;

pub(crate) struct Header {
    state: AtomicUsize,
    vtable: &'static Vtable,
    /// The owning runtime's id (see `shared::registry`).
    pub(crate) runtime: u32,
    /// The task's number in its runtime (for traces; wraps).
    pub(crate) id: u32,
    /// Owner only: the neighbours in the runtime's [`LiveTasks`] list;
    /// `prev` is `None` exactly when the task is not in the list.
    prev: Cell<Option<NonNull<Header>>>,
    next: Cell<Option<NonNull<Header>>>,
    /// Owner only: the join handle's waker, until the task completes.
    join_waker: UnsafeCell<Option<Waker>>,
}

struct Vtable {
    /// Polls the future. When it is done (`Ready` or a panic) takes the
    /// task off the list, drops the future, writes the output (or drops it
    /// if the handle is gone), and returns true: the caller then owns the
    /// list's reference and must `finish`.
    poll: unsafe fn(NonNull<Header>, &mut Context<'_>, &LiveTasks) -> bool,
    /// If the future is alive (abort, shutdown): as `poll` when done, with
    /// `Err(JoinError)` as the output, and returns true.
    cancel: unsafe fn(NonNull<Header>, &LiveTasks) -> bool,
    /// The cell's layout, to free it.
    layout: Layout,
    /// Where the output is: the stage's offset in the cell.
    output_offset: usize,
}

#[repr(C)]
struct TaskCell<F: Future> {
    header: Header,
    /// Owner only.
    stage: UnsafeCell<Stage<F>>,
}

/// The future, then its output (module docs).
#[repr(C)]
union Stage<F: Future> {
    /// In use while the task is in the live list.
    future: ManuallyDrop<F>,
    /// Once COMPLETE is set: `Some` until the handle takes or drops it.
    output: ManuallyDrop<Option<Result<F::Output, JoinError>>>,
}

/// One counted reference to a task cell.
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: off the owner thread a TaskRef is only moved, counted and pushed to
// the remote queue; everything that is not thread-safe in the cell is
// touched by the owner thread only (module docs).
unsafe impl Send for TaskRef {}

impl TaskRef {
    /// Allocates a task running `future`, already scheduled. Returns three
    /// references: the live list's, the join handle's and the run queue's.
    pub(crate) fn new<F>(future: F, id: u32, runtime: u32) -> [TaskRef; 3]
    where
        F: Future + 'static,
    {
        let cell = Box::new(TaskCell {
            header: Header {
                state: AtomicUsize::new(SCHEDULED | JOIN_INTEREST | (3 * REF_ONE)),
                vtable: vtable::<F>(),
                runtime,
                id,
                prev: Cell::new(None),
                next: Cell::new(None),
                join_waker: UnsafeCell::new(None),
            },
            stage: UnsafeCell::new(Stage {
                future: ManuallyDrop::new(future),
            }),
        });
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        [TaskRef(ptr), TaskRef(ptr), TaskRef(ptr)]
    }

    #[inline]
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
    #[inline]
    pub(crate) fn is_complete(&self) -> bool {
        self.header().state.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// Owner only: asks the task to drop its future at its next run.
    pub(crate) fn abort(&self) {
        if !self.is_complete() {
            self.header().state.fetch_or(CANCELLED, Ordering::AcqRel);
            self.header().schedule_by_ref(self.0);
        }
    }

    /// Owner only: runs the task once (it was popped from a run queue; this
    /// consumes the queue's reference). Returns whether it completed.
    pub(crate) fn run(self, core: &Core) -> bool {
        let header = self.header();
        // SCHEDULED is set (the task was in a queue), so subtracting it
        // clears it; `lock xadd`, where `fetch_and` would be a CAS loop.
        let prev = header.state.fetch_sub(SCHEDULED, Ordering::AcqRel);
        debug_assert!(prev & SCHEDULED != 0, "a queued task is SCHEDULED");
        if prev & COMPLETE != 0 {
            return false;
        }
        let done = if prev & CANCELLED != 0 {
            // SAFETY: owner thread; the cell is alive (we hold a reference);
            // a task is only run by the runtime that spawned it, so it is
            // in (or already off) `core`'s list.
            unsafe { (header.vtable.cancel)(self.0, &core.tasks) }
        } else {
            // Borrow the queue's reference as the waker: no count change.
            let raw = RawWaker::new(self.0.as_ptr() as *const (), &WAKER_VTABLE);
            // SAFETY: the vtable upholds the RawWaker contract; ManuallyDrop
            // keeps us from releasing a reference the waker does not own.
            let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw) });
            let mut cx = Context::from_waker(&waker);
            let prev_task = core.current_task.replace(u64::from(header.id));
            // SAFETY: as for `cancel` above.
            let done = unsafe { (header.vtable.poll)(self.0, &mut cx, &core.tasks) };
            core.current_task.set(prev_task);
            done
        };
        if done {
            self.finish();
        }
        done
    }

    /// Owner only, right after a `poll` or `cancel` that returned true (the
    /// task is off the list, the future gone, the output written or
    /// dropped): releases the list's reference and `self` while setting
    /// COMPLETE, in one atomic step, and wakes the join handle.
    fn finish(self) {
        let ptr = ManuallyDrop::new(self).0;
        // SAFETY: we own a reference (`self`, now unmanaged), so the cell lives.
        let header = unsafe { ptr.as_ref() };
        // The join handle's waker (none is stored once the handle is gone).
        // SAFETY: `join_waker` is touched only on the owner thread (this
        // one: `finish` is owner-only), and no reference into it outlives
        // any of those accesses, so this exclusive access is the only one.
        let waker = unsafe { (*header.join_waker.get()).take() };
        // COMPLETE is clear, so subtracting `2 * REF_ONE - COMPLETE` releases
        // two references and sets it without borrowing from other bits.
        const RELEASE: usize = 2 * REF_ONE - COMPLETE;
        let prev = header.state.fetch_sub(RELEASE, Ordering::AcqRel);
        if prev / REF_ONE == 2 {
            // SAFETY: those were the last two references (so there is no
            // join handle: the output was dropped; the future is gone).
            unsafe { dealloc(ptr) };
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Owner only: drops the future now (runtime shutdown), if it is alive.
    pub(crate) fn shutdown(self, core: &Core) {
        // SAFETY: owner thread; the cell is alive; `core` runs the task.
        if unsafe { (self.header().vtable.cancel)(self.0, &core.tasks) } {
            self.finish();
        }
    }

    /// Owner only (join handle): takes the output if finished, else stores
    /// the waker.
    ///
    /// # Safety
    /// `T` must be the output type of the task's future, and `self` the
    /// join handle's reference.
    pub(crate) unsafe fn poll_join<T>(&self, waker: &Waker) -> Poll<Result<T, JoinError>> {
        if self.is_complete() {
            // SAFETY: owner thread, COMPLETE is set; `T` matches (caller's
            // contract).
            match unsafe { self.output::<T>() }.take() {
                Some(output) => Poll::Ready(output),
                None => unreachable!("a join handle polled after it returned Ready"),
            }
        } else {
            // SAFETY: `join_waker` is touched only on the owner thread (the
            // join handle is !Send), and no other reference into it is live
            // while this one is used below.
            let slot = unsafe { &mut *self.header().join_waker.get() };
            match slot {
                Some(w) if w.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
            Poll::Pending
        }
    }

    /// Owner only (join handle drop): drops the output if it is there (or
    /// the stored waker if not), then releases the handle's reference,
    /// clearing JOIN_INTEREST in the same atomic step.
    ///
    /// # Safety
    /// As for [`poll_join`](Self::poll_join); the handle does not use
    /// `self` afterwards (its reference is released here).
    pub(crate) unsafe fn drop_join_handle<T>(&self) {
        let header = self.header();
        if self.is_complete() {
            // SAFETY: owner thread, COMPLETE is set; `T` matches (caller's
            // contract).
            if let Some(output) = unsafe { self.output::<T>() }.take() {
                drop_guarded(output);
            }
        } else {
            // SAFETY: `join_waker` is touched only on the owner thread (the
            // join handle is !Send), and no other reference into it is live.
            drop(unsafe { (*header.join_waker.get()).take() });
        }
        // If the count says this is the last reference, no other thread
        // holds one (it would be counted) and none can get one (that takes
        // one to clone), so nothing else can reach the cell: free it
        // without an atomic read-modify-write. The Acquire load
        // synchronises with the release of the last reference another
        // thread dropped, as the subtraction would.
        if header.state.load(Ordering::Acquire) / REF_ONE == 1 {
            // SAFETY: the last reference (so the task completed and the
            // output was just taken or dropped).
            unsafe { dealloc(self.0) };
            return;
        }
        // JOIN_INTEREST is set (only this handle clears it), so this clears
        // it and releases one reference without borrowing from other bits.
        let prev = header
            .state
            .fetch_sub(REF_ONE + JOIN_INTEREST, Ordering::AcqRel);
        if prev / REF_ONE == 1 {
            // SAFETY: that was the last reference (so the task completed and
            // the output was just taken or dropped).
            unsafe { dealloc(self.0) };
        }
    }

    /// # Safety
    /// Owner thread; COMPLETE is set; `T` is the output type of the task's
    /// future; no other reference to the stage is live.
    #[allow(clippy::mut_from_ref)]
    unsafe fn output<T>(&self) -> &mut Option<Result<T, JoinError>> {
        let offset = self.header().vtable.output_offset;
        // SAFETY: the stage of a `TaskCell<F>` is at `output_offset`
        // (`vtable::<F>`), and with COMPLETE set its `output` field, an
        // `Option<Result<F::Output, JoinError>>` with `F::Output = T`, is
        // the one in use (caller's contract; module docs). The caller
        // guarantees exclusive owner-thread access.
        unsafe {
            &mut *self
                .0
                .as_ptr()
                .cast::<u8>()
                .add(offset)
                .cast::<Option<Result<T, JoinError>>>()
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
            // SAFETY: that was the last reference.
            unsafe { dealloc(self.0) };
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

/// A runtime's tasks whose futures are alive: an intrusive doubly-linked
/// list through the headers' `prev`/`next`, so that dropping the runtime
/// can drop every future. Each member is kept alive by one reference that
/// the list owns (held as the pointers, not as `TaskRef`s).
///
/// A member's `prev` is never `None`: the first member's is [`FIRST`], a
/// mark that is not a task. So `prev.is_some()` says whether a task is in
/// the list, which is whether its future is alive.
///
/// Owner only: it lives in the `Core` (which is `!Send`), and only the
/// owner thread touches the links.
pub(crate) struct LiveTasks {
    head: Cell<Option<NonNull<Header>>>,
}

/// The `prev` of the first member: dangling (never a header's address).
const FIRST: NonNull<Header> = NonNull::dangling();

impl LiveTasks {
    pub(crate) fn new() -> LiveTasks {
        LiveTasks {
            head: Cell::new(None),
        }
    }

    /// Adds a new task, taking over `task` as the list's reference.
    pub(crate) fn push(&self, task: TaskRef) {
        let ptr = ManuallyDrop::new(task).0;
        // SAFETY: the reference just taken over keeps the cell alive.
        let header = unsafe { ptr.as_ref() };
        debug_assert!(header.prev.get().is_none() && header.next.get().is_none());
        let old = self.head.replace(Some(ptr));
        header.prev.set(Some(FIRST));
        header.next.set(old);
        if let Some(old) = old {
            // SAFETY: a member, kept alive by the list's reference.
            unsafe { old.as_ref() }.prev.set(Some(ptr));
        }
    }

    /// Takes `header`'s task off the list if it is in it, and says whether
    /// it was. If so, the list's reference passes to the caller, who must
    /// release it.
    ///
    /// # Safety
    /// Owner thread; the task is in this list or in none.
    unsafe fn unlink(&self, header: &Header) -> bool {
        let Some(prev) = header.prev.take() else {
            return false;
        };
        let next = header.next.take();
        if prev == FIRST {
            self.head.set(next);
        } else {
            // SAFETY: neighbours are members, kept alive by the list.
            unsafe { prev.as_ref() }.next.set(next);
        }
        if let Some(next) = next {
            // SAFETY: `next` is a member of the list (it was `header`'s
            // neighbour), and the list keeps its members' cells alive.
            unsafe { next.as_ref() }.prev.set(Some(prev));
        }
        true
    }

    /// A new reference to the first task, if any.
    pub(crate) fn first(&self) -> Option<TaskRef> {
        self.head.get().map(|ptr| {
            // SAFETY: a member, kept alive by the list's reference.
            unsafe { ptr.as_ref() }.add_ref();
            TaskRef(ptr)
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head.get().is_none()
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
        layout: Layout::new::<TaskCell<F>>(),
        output_offset: std::mem::offset_of!(TaskCell<F>, stage),
    };
}

fn vtable<F: Future + 'static>() -> &'static Vtable {
    &VtableFor::<F>::VTABLE
}

/// Drops `value`; a panic in its drop is swallowed (it must not unwind
/// through the loop).
fn drop_guarded<T>(value: T) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// Owner thread: takes the task off `tasks` and drops its future, if it is
/// alive; says whether it was, and returns a panic the drop raised.
///
/// # Safety
/// `cell` is the task's cell, in `tasks` or in no list; no other reference
/// to its stage is live.
unsafe fn drop_future<F: Future>(
    cell: &TaskCell<F>,
    tasks: &LiveTasks,
) -> Option<Option<Box<dyn std::any::Any + Send>>> {
    // SAFETY: `unlink` needs the owner thread and the task in `tasks` or in
    // no list: this function's own contract, which its caller upholds.
    if !unsafe { tasks.unlink(&cell.header) } {
        return None;
    }
    // Off the list first: whether or not its drop panics, the future counts
    // as dropped, and nothing will drop it again.
    // SAFETY: the task was in the list, so the future field is in use and
    // alive; nothing else borrows the stage.
    let future = unsafe { &mut (*cell.stage.get()).future };
    // SAFETY: dropped once: the task left the list just above.
    Some(catch_unwind(AssertUnwindSafe(|| unsafe { ManuallyDrop::drop(future) })).err())
}

/// Owner thread, the future dropped, COMPLETE still clear: writes the
/// stage's output field (the one COMPLETE will say is in use), or drops
/// the output and writes "none" if the handle is gone.
///
/// # Safety
/// `cell` is the task's cell; its future was dropped; no other reference
/// to its stage is live.
unsafe fn write_output<F: Future>(cell: &TaskCell<F>, output: Result<F::Output, JoinError>) {
    let stage = cell.stage.get();
    if cell.header.state.load(Ordering::Relaxed) & JOIN_INTEREST != 0 {
        // SAFETY: owner thread (JOIN_INTEREST is cleared by the owner only,
        // so the relaxed load is exact); the stage holds a dropped future,
        // which is overwritten without being dropped again.
        unsafe { (*stage).output = ManuallyDrop::new(Some(output)) };
    } else {
        // Nobody will take it.
        drop_guarded(output);
        // SAFETY: owner thread, and no other reference to the stage is live
        // (this function's contract); the stage holds a dropped future,
        // which is overwritten without being dropped again.
        unsafe { (*stage).output = ManuallyDrop::new(None) };
    }
}

/// The vtable's `poll` for a cell of `F`.
///
/// # Safety
/// Owner thread; `ptr` is the header of a live `TaskCell<F>` (the vtable of
/// a cell is only ever called with that cell's header), in `tasks` or in
/// no list, with no other reference to its stage live.
unsafe fn poll<F: Future>(ptr: NonNull<Header>, cx: &mut Context<'_>, tasks: &LiveTasks) -> bool {
    // SAFETY: `ptr` is the header of a live `TaskCell<F>` (this function's
    // contract), and the header is the cell's first field (`repr(C)`).
    let cell = unsafe { ptr.cast::<TaskCell<F>>().as_ref() };
    // Whether this call took the task off the list (and so dropped the
    // future and owns the list's reference). Runs do not nest, so a task
    // that is polled is in the list and stays there until we take it off;
    // checking costs little and keeps a broken promise from double-freeing.
    let mut unlinked = false;
    if cell.header.prev.get().is_none() {
        return false;
    }
    // Poll, and drop the future as soon as it is done, in one guarded call.
    let polled = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the task is in the list, so the future field is in use
        // and alive; nothing else borrows the stage.
        let future = unsafe { &mut (*cell.stage.get()).future };
        // SAFETY: the future is never moved: it stays in the heap cell
        // until it is dropped in place.
        let poll = unsafe { Pin::new_unchecked(&mut **future) }.poll(cx);
        if poll.is_ready() {
            // Off the list, then dropped, as in `drop_future`.
            // SAFETY: owner thread; the task is in `tasks` or in no list
            // (caller's contract).
            unlinked = unsafe { tasks.unlink(&cell.header) };
            if unlinked {
                // SAFETY: dropped once: it left the list just above.
                unsafe { ManuallyDrop::drop(future) };
            }
        }
        poll
    }));
    let output = match polled {
        Ok(Poll::Pending) => return false,
        Ok(Poll::Ready(output)) => Ok(output),
        Err(panic) => {
            // The poll panicked (the future is alive, in the list) or the
            // drop did (it is off the list and counts as dropped).
            // SAFETY: forwarded; the closure's borrow of the stage is over.
            if let Some(second) = unsafe { drop_future(cell, tasks) } {
                unlinked = true;
                if let Some(second) = second {
                    drop_guarded(second);
                }
            }
            Err(JoinError::panic(panic))
        }
    };
    if !unlinked {
        drop_guarded(output);
        return false;
    }
    // SAFETY: the future was dropped, and nothing borrows the stage.
    unsafe { write_output(cell, output) };
    true
}

/// The vtable's `cancel` for a cell of `F`.
///
/// # Safety
/// As for [`poll`].
unsafe fn cancel<F: Future>(ptr: NonNull<Header>, tasks: &LiveTasks) -> bool {
    // SAFETY: `ptr` is the header of a live `TaskCell<F>` (this function's
    // contract), and the header is the cell's first field (`repr(C)`).
    let cell = unsafe { ptr.cast::<TaskCell<F>>().as_ref() };
    // SAFETY: `drop_future` needs the cell in `tasks` or in no list, with no
    // other reference to its stage: `cancel`'s own contract.
    let output = match unsafe { drop_future(cell, tasks) } {
        None => return false,
        Some(None) => Err(JoinError::cancelled()),
        Some(Some(panic)) => Err(JoinError::panic(panic)),
    };
    // SAFETY: the future was dropped, and nothing borrows the stage.
    unsafe { write_output(cell, output) };
    true
}

/// Frees a cell.
///
/// By the module's invariant the owner has already dropped the future and
/// the output, and the join waker was taken at completion or by the
/// handle's drop, so there is nothing left to drop: the memory is only
/// freed, which is sound on any thread.
///
/// # Safety
/// `ptr`'s cell is alive and this was its last reference.
unsafe fn dealloc(ptr: NonNull<Header>) {
    // SAFETY: the cell is alive (caller's contract); reading its vtable.
    let layout = unsafe { ptr.as_ref() }.vtable.layout;
    // SAFETY: the cell was allocated by `Box::new` in `TaskRef::new` as a
    // `TaskCell<F>`, whose layout the vtable records, and no reference to
    // it remains.
    unsafe { std::alloc::dealloc(ptr.as_ptr().cast(), layout) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell_size<F: Future>(_: &F) -> usize {
        std::mem::size_of::<TaskCell<F>>()
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_trivial_task_fits_in_72_bytes_so_malloc_serves_it_an_80_byte_chunk() {
        let i = 7u64;
        assert_eq!(std::mem::size_of::<Header>(), 56);
        assert_eq!(cell_size(&async move { i }), 72);
    }
}
