//! Helpers shared by the integration tests, so that each test reads as a
//! sentence about the runtime's behaviour.
//!
//! * [`watchdog`]: every test that could hang runs its body under one;
//!   [`run`] and [`run_uring`] run a future under one on a fresh runtime.
//! * [`DropLog`] and [`RecordingBuf`]: one timeline holding what the runtime
//!   did (SQEs pushed, CQEs reaped, from an `on_event` observer) and what
//!   happened to the test's buffers (lent to an SQE, dropped), so a test can
//!   assert that no buffer was freed before the kernel was done with it.
//! * [`open_fds`] and [`exclusive_fd_table`]: counting descriptors.
//! * [`DropCounter`], [`poll_once`], [`join_all`], [`eventually`], [`Rng`].

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use ringloop::buf::{IoBuf, IoBufMut};
use ringloop::trace::Event;
use std::cell::RefCell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Runs `body` on its own thread and returns its result; panics with a clear
/// message if it has not finished after `secs` seconds (the body's thread is
/// then left behind; the test binary ends it when it exits). A panic in the
/// body is re-raised here unchanged.
pub fn watchdog<T, F>(secs: u64, body: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let name = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string();
    let (done, result) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("{name} (body)"))
        .spawn(move || {
            let outcome = panic::catch_unwind(AssertUnwindSafe(body));
            let _ = done.send(outcome);
        })
        .expect("could not start the test body's thread");
    match result.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(value)) => value,
        Ok(Err(payload)) => panic::resume_unwind(payload),
        Err(RecvTimeoutError::Timeout) => panic!(
            "watchdog: `{name}` did not finish within {secs} s: the runtime is hung \
             (a lost wake-up, a CQE never reaped, a drain that never ends) or far too slow"
        ),
        Err(RecvTimeoutError::Disconnected) => {
            unreachable!("the body's thread reports before it exits")
        }
    }
}

/// Builds a runtime on a fresh thread, runs `make()`'s future on it, and
/// fails the test if that takes more than `secs` seconds. The driver is the
/// default one, so `RINGLOOP_DRIVER=epoll` runs the test on the fallback.
pub fn run<M, F>(secs: u64, make: M) -> F::Output
where
    M: FnOnce() -> F + Send + 'static,
    F: Future,
    F::Output: Send + 'static,
{
    watchdog(secs, move || {
        ringloop::Runtime::new()
            .expect("a runtime")
            .block_on(make())
    })
}

/// As [`run`], on the io_uring driver whatever `RINGLOOP_DRIVER` says: for
/// tests of what only io_uring does (multishot, provided and registered
/// buffers, registered files, SQEs in flight, cancellation races).
pub fn run_uring<M, F>(secs: u64, make: M) -> F::Output
where
    M: FnOnce() -> F + Send + 'static,
    F: Future,
    F::Output: Send + 'static,
{
    watchdog(secs, move || {
        ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .expect("an io_uring runtime")
            .block_on(make())
    })
}

/// Number of open file descriptors of this process (entries of
/// `/proc/self/fd`, counting the one used to list them).
///
/// The fd table is shared by every thread of the test binary: a test that
/// compares two counts must hold [`exclusive_fd_table`], and so must every
/// other test of its binary.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd is readable")
        .count()
}

/// Serialises the tests of one binary that open or close descriptors, so
/// that [`open_fds`] counts only the holder's. Poison is ignored: a failed
/// test must not fail the others.
pub fn exclusive_fd_table() -> MutexGuard<'static, ()> {
    static FD_TABLE: Mutex<()> = Mutex::new(());
    FD_TABLE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What `/proc/self/fd/<fd>` links to (`pipe:[1234]` …), if `fd` is open.
pub fn fd_target(fd: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// One entry of a [`DropLog`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The runtime queued an op's SQE under this key.
    Sqe { user_data: u64, op: &'static str },
    /// The runtime reaped the CQE carrying this key.
    Cqe { user_data: u64, result: i32 },
    /// Buffer `id` gave its pointer to an SQE being built (the op's SQE is
    /// the next [`Entry::Sqe`] of the log).
    Lent(usize),
    /// Buffer `id` was dropped.
    Dropped(usize),
    /// A point in the test's own timeline.
    Mark(&'static str),
}

/// A timeline shared by a runtime's observer and the test's buffers.
///
/// Single-threaded on purpose: it lives on the runtime's thread, and a
/// re-entrant use (logging while the log is borrowed) panics instead of
/// deadlocking.
#[derive(Clone, Default)]
pub struct DropLog(Rc<RefCell<Vec<Entry>>>);

impl DropLog {
    pub fn new() -> DropLog {
        DropLog::default()
    }

    /// A fresh runtime on the io_uring driver that records its events in
    /// this log (the SQEs and CQEs the drop-order assertions look for).
    pub fn uring_runtime(&self) -> ringloop::Runtime {
        ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .on_event(self.observer())
            .build()
            .expect("an io_uring runtime")
    }

    pub fn push(&self, entry: Entry) {
        self.0.borrow_mut().push(entry);
    }

    /// Records a point of the test's timeline.
    pub fn mark(&self, what: &'static str) {
        self.push(Entry::Mark(what));
    }

    /// An observer for `Builder::on_event` that logs SQEs and CQEs here.
    pub fn observer(&self) -> impl Fn(&Event) + 'static {
        let log = self.clone();
        move |event| match *event {
            Event::SqePushed { user_data, op, .. } => log.push(Entry::Sqe { user_data, op }),
            Event::CqeReaped {
                user_data, result, ..
            } => log.push(Entry::Cqe { user_data, result }),
            _ => {}
        }
    }

    /// A buffer `id` with `capacity` bytes of room, recording here when the
    /// kernel is given its pointer and when it is dropped.
    pub fn buf(&self, id: usize, capacity: usize) -> RecordingBuf {
        self.buf_with(id, Vec::with_capacity(capacity))
    }

    /// As [`DropLog::buf`], holding `bytes` (for writes).
    pub fn buf_with(&self, id: usize, bytes: Vec<u8>) -> RecordingBuf {
        RecordingBuf {
            id,
            bytes,
            log: self.clone(),
        }
    }

    /// A copy of the timeline.
    pub fn entries(&self) -> Vec<Entry> {
        self.0.borrow().clone()
    }

    /// Index of the first entry equal to `entry`.
    pub fn position(&self, entry: &Entry) -> Option<usize> {
        self.0.borrow().iter().position(|e| e == entry)
    }

    /// How many times buffer `id` was dropped.
    pub fn drops_of(&self, id: usize) -> usize {
        self.count(|e| *e == Entry::Dropped(id))
    }

    /// Number of entries matching `pred`.
    pub fn count(&self, pred: impl Fn(&Entry) -> bool) -> usize {
        self.0.borrow().iter().filter(|e| pred(e)).count()
    }

    /// The `user_data` of every op buffer `id` was lent to, in order.
    pub fn user_data_of(&self, id: usize) -> Vec<u64> {
        let entries = self.0.borrow();
        let mut keys = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            if *entry != Entry::Lent(id) {
                continue;
            }
            let sqe = entries[i + 1..].iter().find_map(|e| match e {
                Entry::Sqe { user_data, .. } => Some(*user_data),
                _ => None,
            });
            if let Some(user_data) = sqe {
                keys.push(user_data);
            }
        }
        keys
    }

    /// The `user_data` of the one op buffer `id` was lent to.
    ///
    /// # Panics
    ///
    /// If it was lent to no op, or to several.
    pub fn only_user_data_of(&self, id: usize) -> u64 {
        match self.user_data_of(id)[..] {
            [key] => key,
            ref keys => panic!("buffer {id} was lent to {} ops, expected one", keys.len()),
        }
    }

    /// Whether the CQE of `user_data` has been reaped.
    pub fn has_cqe(&self, user_data: u64) -> bool {
        self.cqe_position(user_data).is_some()
    }

    /// Index of the CQE of `user_data`.
    pub fn cqe_position(&self, user_data: u64) -> Option<usize> {
        self.0
            .borrow()
            .iter()
            .position(|e| matches!(e, Entry::Cqe { user_data: u, .. } if *u == user_data))
    }

    /// `res` of the CQE of `user_data`.
    pub fn cqe_result(&self, user_data: u64) -> Option<i32> {
        self.0.borrow().iter().find_map(|e| match e {
            Entry::Cqe {
                user_data: u,
                result,
            } if *u == user_data => Some(*result),
            _ => None,
        })
    }

    /// The kernel-safety rule, for buffers `ids`: each was dropped exactly
    /// once, and never before the CQE of any op it was lent to.
    ///
    /// # Panics
    ///
    /// With the first buffer that breaks it.
    pub fn assert_each_dropped_once_after_its_cqes(&self, ids: impl IntoIterator<Item = usize>) {
        for id in ids {
            let drops = self.drops_of(id);
            assert_eq!(
                drops, 1,
                "buffer {id} was dropped {drops} times, expected once"
            );
            let dropped_at = self
                .position(&Entry::Dropped(id))
                .expect("counted just above");
            for user_data in self.user_data_of(id) {
                match self.cqe_position(user_data) {
                    Some(cqe_at) => assert!(
                        cqe_at < dropped_at,
                        "buffer {id} was dropped (log entry {dropped_at}) before the CQE of \
                         its op {user_data:#x} (log entry {cqe_at}): the kernel could still \
                         write into it"
                    ),
                    None => panic!(
                        "buffer {id} was dropped (log entry {dropped_at}) but its op \
                         {user_data:#x} never had a CQE reaped: freed while the kernel owns it"
                    ),
                }
            }
        }
    }
}

/// An [`IoBufMut`] over a heap `Vec<u8>` that records in a [`DropLog`] when
/// an SQE takes its pointer and when it is dropped.
#[derive(Debug)]
pub struct RecordingBuf {
    id: usize,
    bytes: Vec<u8>,
    log: DropLog,
}

impl std::fmt::Debug for DropLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DropLog({} entries)", self.0.borrow().len())
    }
}

impl RecordingBuf {
    pub fn id(&self) -> usize {
        self.id
    }

    /// The initialised bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for RecordingBuf {
    fn drop(&mut self) {
        self.log.push(Entry::Dropped(self.id));
    }
}

// SAFETY: the pointer is that of the Vec's heap allocation, which does not
// move when the RecordingBuf moves and lives until it is dropped; `len`
// bytes are initialised out of `capacity`.
unsafe impl IoBuf for RecordingBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.log.push(Entry::Lent(self.id));
        self.bytes.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.bytes.len()
    }
    fn bytes_total(&self) -> usize {
        self.bytes.capacity()
    }
}

// SAFETY: as above; the kernel writes into the spare capacity, and
// `set_init` only grows `len` to what the kernel reported written.
unsafe impl IoBufMut for RecordingBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.log.push(Entry::Lent(self.id));
        self.bytes.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        if self.bytes.len() < pos {
            // SAFETY: the caller guarantees the first `pos` bytes are
            // initialised; `pos <= capacity` because the kernel was given
            // `capacity` bytes.
            unsafe { self.bytes.set_len(pos) };
        }
    }
}

/// Counts drops of the [`DropToken`]s it hands out (thread-safe).
#[derive(Clone, Debug, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

/// Bumps its [`DropCounter`] when dropped.
#[derive(Debug)]
pub struct DropToken(Arc<AtomicUsize>);

impl DropCounter {
    pub fn new() -> DropCounter {
        DropCounter::default()
    }

    pub fn token(&self) -> DropToken {
        DropToken(Arc::clone(&self.0))
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `fut` exactly once, with the current task's waker.
pub async fn poll_once<F: Future + ?Sized>(mut fut: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(move |cx| Poll::Ready(fut.as_mut().poll(cx))).await
}

/// Awaits every future of `futs` concurrently (in one task); outputs in order.
pub async fn join_all<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<Option<Pin<Box<F>>>> =
        futs.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (slot, out) in pending.iter_mut().zip(outputs.iter_mut()) {
            if let Some(fut) = slot {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

/// Waits (turning the loop, 1 ms at a time, at most 10 s) until `cond`
/// holds; panics naming `what` otherwise.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        ringloop::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("gave up waiting (10 s) for: {what}");
}

/// A small deterministic PRNG (xorshift64*), seeded from
/// `RINGLOOP_TEST_SEED` or the clock; the seed is printed so a failing run
/// can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_clock(test: &str) -> Rng {
        let seed = std::env::var("RINGLOOP_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64)
            });
        eprintln!("{test}: RINGLOOP_TEST_SEED={seed}");
        Rng::new(seed)
    }

    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Re-runs the test `test` of this test binary in a child process with
/// `var=value` in its environment (the test sees it and plays the child's
/// role), and returns what the child reported with [`report`]. For tests
/// that need a process of their own: a seccomp filter, a fresh thread pool.
///
/// # Panics
///
/// If the child fails, reports nothing, or runs longer than `timeout`
/// (it is then killed).
pub fn run_in_child(test: &str, var: &str, value: &str, timeout: Duration) -> Vec<String> {
    use std::process::{Command, Stdio};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let out_path = std::env::temp_dir().join(format!(
        "ringloop-child-{}-{}.out",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let out = std::fs::File::create(&out_path).expect("create the child's output file");
    let err = out.try_clone().expect("dup the child's output file");
    let mut child = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(var, value)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("re-execute the test binary");
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&out_path);
            panic!("the child process running `{test}` did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    assert!(
        status.success(),
        "the child running `{test}` failed ({status}):\n{output}"
    );
    // With --nocapture the harness prints "test <name> ... " without a
    // newline before the test's own output: look for the tag anywhere.
    let lines: Vec<String> = output
        .lines()
        .filter_map(|l| l.split_once("CHILD: ").map(|(_, r)| r.to_string()))
        .collect();
    assert!(
        !lines.is_empty(),
        "the child running `{test}` reported nothing:\n{output}"
    );
    lines
}

/// Child side of [`run_in_child`]: reports one `name=value` line.
pub fn report(name: &str, value: impl std::fmt::Display) {
    println!("CHILD: {name}={value}");
}

/// The value of `name` in a child's report.
///
/// # Panics
///
/// If the child did not report it.
pub fn reported<'a>(lines: &'a [String], name: &str) -> &'a str {
    let prefix = format!("{name}=");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("the child did not report `{name}`: {lines:?}"))
}
