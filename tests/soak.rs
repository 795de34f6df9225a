//! A CI-sized soak (`examples/soak.rs` runs the long one): an echo server
//! under resets, half-closes, stalls and bursts for a few seconds, on both
//! drivers. Nothing may come back wrong, and fds and memory must not grow.

#[path = "../examples/soak.rs"]
#[allow(dead_code)]
mod soak;

use ringloop::Driver;
use std::time::Duration;

fn soak_stays_flat(driver: Driver) {
    let report = soak::run(4, driver, Duration::from_millis(500), false);
    assert!(report.verified > 100, "{report:?}");
    assert_eq!(report.errors.get("CORRUPT"), None, "{report:?}");
    let first = report.samples.first().expect("samples");
    let last = report.samples.last().expect("samples");
    // The fd table may hold a few connections in flight at either sample.
    assert!(
        last.0 <= first.0 + 40,
        "fds grew from {} to {}: {report:?}",
        first.0,
        last.0
    );
    // Under AddressSanitizer freed memory sits in its quarantine (hundreds
    // of MiB by design), so RSS says nothing about leaks there; LeakSanitizer
    // checks them instead. ci/asan.sh sets RINGLOOP_SANITIZER.
    if std::env::var_os("RINGLOOP_SANITIZER").is_some() {
        return;
    }
    assert!(
        last.1 <= first.1 * 2 + 4096,
        "RSS grew from {} KiB to {} KiB",
        first.1,
        last.1
    );
}

#[test]
fn a_short_soak_on_io_uring_loses_nothing_and_grows_nothing() {
    soak_stays_flat(Driver::Uring);
}

#[test]
fn a_short_soak_on_epoll_loses_nothing_and_grows_nothing() {
    soak_stays_flat(Driver::Epoll);
}
