//! Dropping a runtime with work in flight: bounded, nothing freed while the
//! kernel owns it, nothing leaked.
//!
//! Every test here holds [`exclusive_fd_table`]: some count open
//! descriptors, and the fd table is shared by all threads of this binary.

mod common;

use common::{eventually, exclusive_fd_table, open_fds, watchdog, DropCounter, DropLog, Entry};
use ringloop::io::pipe;
use ringloop::spawn;
use ringloop::time::sleep;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[test]
fn dropping_a_runtime_with_128_pending_reads_and_sleeping_tasks_is_quick_and_frees_everything() {
    const READS: usize = 128;
    const SLEEPERS: usize = 32;
    let _fds = exclusive_fd_table();
    watchdog(30, || {
        let fds_before = open_fds();
        let log = DropLog::new();
        let sleepers = DropCounter::new();
        let rt = log.uring_runtime();
        let writers = rt.block_on(async {
            let mut writers = Vec::new();
            for id in 0..READS {
                let (reader, writer) = pipe().unwrap();
                writers.push(writer);
                let buf = log.buf(id, 64);
                let returned = log.clone();
                drop(spawn(async move {
                    let _ = reader.read(buf).await;
                    returned.mark("a read returned");
                }));
            }
            for _ in 0..SLEEPERS {
                let token = sleepers.token();
                drop(spawn(async move {
                    let _token = token;
                    sleep(Duration::from_secs(3600)).await;
                }));
            }
            eventually("every read is submitted", || {
                log.count(|e| matches!(e, Entry::Sqe { op: "read", .. })) == READS
            })
            .await;
            // One more turn, so the reads are in the kernel, not just queued.
            ringloop::nop().await.unwrap();
            writers
        });
        assert_eq!(log.count(|e| matches!(e, Entry::Dropped(_))), 0);
        assert_eq!(
            log.position(&Entry::Mark("a read returned")),
            None,
            "nothing was written"
        );

        let started = Instant::now();
        drop(rt);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "dropping the runtime took {took:?}: cancelling {READS} reads must not wait out a timeout"
        );
        log.assert_each_dropped_once_after_its_cqes(0..READS);
        assert_eq!(
            sleepers.count(),
            SLEEPERS,
            "every sleeping task's future was dropped"
        );

        drop(writers);
        assert_eq!(
            open_fds(),
            fds_before,
            "ring, eventfd and every pipe end are closed"
        );
    });
}

#[test]
fn dropping_an_idle_runtime_is_quick_and_closes_its_descriptors() {
    let _fds = exclusive_fd_table();
    watchdog(30, || {
        let fds_before = open_fds();
        let rt = ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .unwrap();
        rt.block_on(async {
            ringloop::nop().await.unwrap();
            sleep(Duration::from_millis(2)).await;
        });
        let started = Instant::now();
        drop(rt);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "dropping an idle runtime took {took:?}"
        );
        assert_eq!(open_fds(), fds_before);
    });
}

#[test]
fn a_join_handle_that_outlives_its_runtime_reports_the_task_cancelled() {
    let _fds = exclusive_fd_table();
    watchdog(10, || {
        let rt = ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .unwrap();
        let drops = DropCounter::new();
        let token = drops.token();
        let mut handle = None;
        rt.block_on(async {
            handle = Some(spawn(async move {
                let _token = token;
                std::future::pending::<()>().await;
            }));
        });
        let handle = handle.unwrap();
        drop(rt);
        assert_eq!(
            drops.count(),
            1,
            "shutdown dropped the pending task's future"
        );
        assert!(handle.is_finished());
        let mut handle = pin!(handle);
        match handle
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled(), "{e}"),
            other => panic!(
                "expected a cancelled join, got {:?}",
                other.map(|r| r.is_ok())
            ),
        }
    });
}

#[test]
fn many_runtimes_created_and_dropped_in_turn_leak_no_descriptors() {
    let _fds = exclusive_fd_table();
    watchdog(30, || {
        let fds_before = open_fds();
        for _ in 0..64 {
            let rt = ringloop::Builder::new()
                .driver(ringloop::Driver::Uring)
                .build()
                .unwrap();
            rt.block_on(async {
                let (reader, writer) = pipe().unwrap();
                let (res, _) = writer.write(&b"x"[..]).await;
                res.unwrap();
                let (res, _) = reader.read(Vec::with_capacity(8)).await;
                res.unwrap();
                ringloop::nop().await.unwrap();
            });
        }
        assert_eq!(open_fds(), fds_before);
    });
}

#[test]
fn dropping_a_runtime_that_never_parked_with_a_read_in_flight_is_quick() {
    // The loop never went to sleep, so its wake-up read on the eventfd was
    // never armed when the runtime is dropped. Draining the one cancelled
    // read must not leave a fresh wake-up read behind and wait for it.
    let _fds = exclusive_fd_table();
    watchdog(30, || {
        let fds_before = open_fds();
        let log = DropLog::new();
        let rt = log.uring_runtime();
        let (reader, writer) = pipe().unwrap();
        rt.block_on(async {
            let buf = log.buf(0, 64);
            drop(spawn(async move {
                let _ = reader.read(buf).await;
            }));
            while log.count(|e| matches!(e, Entry::Sqe { op: "read", .. })) == 0 {
                ringloop::yield_now().await;
            }
        });
        assert_eq!(rt.stats().parks, 0, "the premise: the loop never slept");

        let started = Instant::now();
        drop(rt);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "dropping the runtime took {took:?} to cancel a single pipe read"
        );
        log.assert_each_dropped_once_after_its_cqes([0]);
        drop(writer);
        assert_eq!(open_fds(), fds_before);
    });
}
