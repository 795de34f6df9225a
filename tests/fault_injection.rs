//! The loop survives failing `io_uring_enter` calls, and failing setup
//! becomes a typed error. Faults come from the `fault-injection` seam, which
//! fails the chosen calls before they reach the kernel.

mod common;

use common::watchdog;
use ringloop::runtime::UringUnavailable;
use ringloop::{fault, Builder};
use std::io;

/// 100 tasks × 20 NOPs while the planned enters fail with `errno`.
fn nops_complete_despite(errno: i32, failures: u64) -> ringloop::Stats {
    watchdog(20, move || {
        let rt = ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .expect("runtime");
        fault::fail_enters(failures, errno);
        let done = rt.block_on(async {
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    ringloop::spawn(async {
                        for _ in 0..20 {
                            ringloop::nop()
                                .await
                                .expect("a nop never sees a transient enter error");
                        }
                    })
                })
                .collect();
            let mut done = 0;
            for task in tasks {
                task.await.expect("task");
                done += 1;
            }
            done
        });
        fault::clear();
        assert_eq!(done, 100);
        rt.stats()
    })
}

#[test]
fn eintr_on_enter_is_retried_and_never_reaches_an_op() {
    let stats = nops_complete_despite(libc::EINTR, 5);
    assert!(stats.eintr_retries >= 5, "{stats:?}");
}

#[test]
fn eagain_on_enter_is_retried() {
    nops_complete_despite(libc::EAGAIN, 5);
}

#[test]
fn ebusy_on_enter_is_retried() {
    nops_complete_despite(libc::EBUSY, 5);
}

#[test]
fn enomem_on_enter_is_retried() {
    nops_complete_despite(libc::ENOMEM, 5);
}

#[test]
fn a_long_run_of_eagain_backs_off_and_recovers() {
    nops_complete_despite(libc::EAGAIN, 50);
}

fn setup_error(errno: i32) -> io::Error {
    fault::fail_setup(errno);
    let err = ringloop::Builder::new()
        .driver(ringloop::Driver::Uring)
        .build()
        .expect_err("setup was made to fail");
    fault::clear();
    err
}

#[test]
fn setup_eperm_is_permission_denied_naming_the_cause() {
    let err = setup_error(libc::EPERM);
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<UringUnavailable>())
        .expect("the inner error is UringUnavailable");
    assert_eq!(inner.errno(), Some(libc::EPERM));
    assert!(err.to_string().contains("io_uring"), "{err}");
}

#[test]
fn setup_enosys_is_unsupported() {
    let err = setup_error(libc::ENOSYS);
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    assert!(err.to_string().contains("ENOSYS"), "{err}");
}

#[test]
fn setup_enomem_names_the_memlock_limit() {
    let err = setup_error(libc::ENOMEM);
    assert!(err.to_string().contains("RLIMIT_MEMLOCK"), "{err}");
}

#[test]
fn setup_einval_drops_the_newest_flag_and_the_runtime_still_works() {
    fault::fail_setup(libc::EINVAL);
    let rt = Builder::new()
        .driver(ringloop::Driver::Uring)
        .build()
        .expect("falls back to older flags");
    fault::clear();
    let flags = rt.setup_flags();
    assert!(
        !flags.contains(ringloop::runtime::SetupFlags::DEFER_TASKRUN),
        "DEFER_TASKRUN was the first flag to drop: {flags:?}"
    );
    assert!(flags.contains(ringloop::runtime::SetupFlags::COOP_TASKRUN));
    rt.block_on(async { ringloop::nop().await.expect("nop") });
}
