//! # ringloop
//!
//! An async runtime for Linux built on io_uring's **completion** model.
//!
//! A future that does I/O does not wait for a file descriptor to become
//! *ready* and then try the syscall itself (the readiness model of epoll,
//! mio and tokio). It describes the **whole operation** once — "read 4 KiB
//! from fd 7 into this buffer" — as a submission queue entry (SQE) tagged
//! with a key, parks its waker under that key and returns `Pending`. When
//! nothing is runnable, the loop makes **one** `io_uring_enter` call that
//! submits every queued SQE and sleeps until a completion (CQE) arrives or
//! the next timer is due. Each CQE is routed by its key to the waiting task,
//! which wakes up with its result already there.
//!
//! Where does the asynchronicity kick in? At the leaf future that hands an
//! SQE to the ring, and at the loop's single wait. Every `async fn` above
//! them is a state machine that forwards `Pending`.
//!
//! ## Quick start
//!
//! ```text
//! cargo run --release --example tour   # watch one op go from SQE to CQE to wake
//! cargo test                           # the test suite
//! ```
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let rt = ringloop::Runtime::new()?;
//! let answer = rt.block_on(async {
//!     let task = ringloop::spawn(async {
//!         ringloop::time::sleep(Duration::from_millis(10)).await;
//!         ringloop::nop().await?;
//!         Ok::<_, std::io::Error>(42)
//!     });
//!     task.await.unwrap()
//! })?;
//! assert_eq!(answer, 42);
//! println!("{}", rt.stats());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Layout
//!
//! * [`Runtime`], [`Builder`], [`spawn`], [`spawn_blocking`], [`JoinHandle`]:
//!   the executor (one ring and one loop per thread).
//! * [`time`]: sleeps, timeouts and intervals, kept in user space and folded
//!   into the loop's one wait.
//! * [`buf`]: the owned-buffer traits that let the kernel own memory safely.
//! * [`fs`]: files on the ring — positional reads and writes, vectored,
//!   `O_DIRECT` and registered-buffer I/O, sync, metadata, path operations.
//! * [`io`]: pipes, and `io::Compat`: ringloop streams and files behind
//!   the `tokio::io`, `futures_io` and `hyper::rt` traits (features
//!   `tokio-io`, `futures-io`, `hyper`).
//! * [`net`]: TCP, UDP and Unix sockets, with multishot accept and receive
//!   over provided buffer rings.
//! * [`trace`]: every step of the model as an event, for the curious.
//! * [`main`] and [`test`]: attribute macros that run an `async fn` on a
//!   runtime; `#[ringloop::test(driver = "both")]` runs a test on each
//!   driver.
//!
//! ## Guarantees
//!
//! The kernel owns what it touches until the terminal CQE: dropping an
//! in-flight future parks its buffer in the op table and cancels the op.
//! Every SQE gets exactly one terminal CQE, routed by slot and generation.
//! A full SQ, an overflowing CQ, `EINTR` and `EBUSY` never hang or fail the
//! loop. Wakers are `Send + Sync`. Dropping the runtime drains in-flight ops
//! before freeing their data. See `docs/architecture.md` for the tests that
//! show each.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, missing_docs)]

pub mod buf;
mod driver;
pub mod fs;
pub mod io;
pub mod net;
mod op;
pub mod runtime;
pub mod time;
pub mod trace;

pub use op::nop::nop;
pub use ringloop_macros::{main, test};

/// What the attribute macros expand to call (not a stable API).
#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __private;

/// Fault injection for tests (feature `fault-injection`; not a stable API).
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub use driver::fault;
pub use runtime::{
    cores, current_core, spawn, spawn_blocking, spawn_on, stats, yield_now, Builder, Driver,
    JoinError, JoinHandle, RemoteJoinHandle, Runtime, Stats,
};
