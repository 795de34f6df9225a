//! What `#[ringloop::main]` and `#[ringloop::test]` expand to call (not a
//! stable API: reached as `ringloop::__private`).
//!
//! Kept here rather than in the expansion so that the generated code is a
//! single call and its error messages are written once.

use crate::{Builder, Driver, Runtime};
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

fn runtime(driver: Driver, entries: Option<u32>) -> Runtime {
    let mut builder = Builder::new().driver(driver);
    if let Some(entries) = entries {
        builder = builder.entries(entries);
    }
    match builder.build() {
        Ok(rt) => rt,
        Err(e) => panic!("ringloop: could not build a runtime with driver {driver:?}: {e}"),
    }
}

/// Builds a runtime and runs `body()` on it, on this thread.
///
/// # Panics
///
/// If the runtime cannot be built; if the body panics.
pub fn block_on<F: Future>(driver: Driver, entries: Option<u32>, body: fn() -> F) -> F::Output {
    runtime(driver, entries).block_on(body())
}

/// As [`block_on`], on a thread of its own, giving up after `secs` seconds:
/// the caller panics then, naming the test (the thread is left behind).
///
/// # Panics
///
/// On the timeout; with the body's own panic, re-raised unchanged.
pub fn block_on_with_timeout<F>(
    driver: Driver,
    entries: Option<u32>,
    secs: u64,
    body: fn() -> F,
) -> F::Output
where
    F: Future + 'static,
    F::Output: Send + 'static,
{
    let name = std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_string();
    let (done, outcome) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("{name} (ringloop)"))
        .spawn(move || {
            let result = panic::catch_unwind(AssertUnwindSafe(|| block_on(driver, entries, body)));
            let _ = done.send(result);
        })
        .expect("ringloop::test: could not start the test's thread");
    match outcome.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(value)) => value,
        Ok(Err(payload)) => panic::resume_unwind(payload),
        Err(RecvTimeoutError::Timeout) => {
            panic!("ringloop::test: `{name}` did not finish within {secs} s ({driver:?} driver)")
        }
        Err(RecvTimeoutError::Disconnected) => unreachable!("the thread reports before it exits"),
    }
}
