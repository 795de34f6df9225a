//! Rows of the failure-mode table not covered by a test of their own
//! elsewhere: forgotten op futures, side data under 1 ms timeouts, fork.

mod common;

use common::{open_fds, report, reported, run_in_child, watchdog};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::{Builder, Driver};
use std::time::Duration;

fn uring() -> ringloop::Runtime {
    Builder::new()
        .driver(Driver::Uring)
        .build()
        .expect("io_uring runtime")
}

#[test]
fn forgetting_in_flight_read_futures_only_leaks_them() {
    // The safe API takes owned buffers, so `mem::forget` on a future keeps
    // its buffer alive forever (a leak), and the kernel keeps writing into
    // memory that is still allocated: never a use-after-free. The reads
    // complete later, and the runtime drains them at drop. (The forgotten
    // futures also keep the pipe's read end open for good: hold the fd
    // table so the fd-counting test here does not see it appear.)
    let _fds = common::exclusive_fd_table();
    watchdog(20, || {
        let rt = uring();
        let (reader, writer) = ringloop::io::pipe().unwrap();
        rt.block_on(async {
            for _ in 0..100 {
                let mut read = Box::pin(reader.read(vec![0u8; 64]));
                let _ = common::poll_once(read.as_mut()).await;
                std::mem::forget(read);
            }
            let (res, _) = writer.write_all(vec![7u8; 64 * 100]).await;
            res.unwrap();
            ringloop::nop().await.unwrap();
        });
        let stats = rt.stats();
        assert_eq!(stats.cancels, 0, "forgotten futures are not dropped");
        drop(rt); // drains: the reads already completed into leaked buffers
    });
}

#[test]
fn ten_thousand_v4_and_v6_connects_under_one_millisecond_timeouts_keep_their_addresses_alive() {
    // Each connect's sockaddr lives in its op until the CQE; many of these
    // timeouts fire while the connect is in flight, dropping the future and
    // parking the address in the op table. Nothing may crash or leak.
    let _fds = common::exclusive_fd_table();
    watchdog(60, || {
        let before = open_fds();
        let rt = uring();
        let (ok, timed_out) = rt.block_on(async {
            let v4 = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let v6 = TcpListener::bind("[::1]:0").await.ok();
            let targets: Vec<_> = std::iter::once(v4.local_addr().unwrap())
                .chain(v6.as_ref().map(|l| l.local_addr().unwrap()))
                .collect();
            let (mut ok, mut timed_out) = (0u32, 0u32);
            for round in 0..100 {
                let tasks: Vec<_> = (0..100)
                    .map(|i| {
                        let addr = targets[(round + i) % targets.len()];
                        ringloop::spawn(async move {
                            ringloop::time::timeout(
                                Duration::from_millis(1),
                                TcpStream::connect(addr),
                            )
                            .await
                        })
                    })
                    .collect();
                for task in tasks {
                    match task.await.unwrap() {
                        Ok(Ok(stream)) => {
                            ok += 1;
                            drop(stream);
                        }
                        Ok(Err(e)) => panic!("connect failed: {e}"),
                        Err(_) => timed_out += 1,
                    }
                }
                // Accept whatever the listeners queued, and let them go.
                while let Ok(Ok(_)) =
                    ringloop::time::timeout(Duration::from_micros(1), v4.accept()).await
                {
                }
            }
            drop((v4, v6));
            (ok, timed_out)
        });
        eprintln!("{ok} connected, {timed_out} timed out in flight");
        assert_eq!(ok + timed_out, 10_000);
        drop(rt);
        assert_eq!(open_fds(), before, "every socket was closed");
    });
}

const FORK_ROLE: &str = "RINGLOOP_TEST_FORK";

#[test]
fn a_child_forked_with_a_read_in_flight_cannot_use_the_parents_ring_and_the_parent_is_unharmed() {
    if std::env::var(FORK_ROLE).is_ok() {
        fork_child_side();
        return;
    }
    let _fds = common::exclusive_fd_table();
    let lines = run_in_child(
        "a_child_forked_with_a_read_in_flight_cannot_use_the_parents_ring_and_the_parent_is_unharmed",
        FORK_ROLE,
        "1",
        Duration::from_secs(30),
    );
    assert_eq!(reported(&lines, "grandchild_exit"), "0", "{lines:?}");
    assert_eq!(reported(&lines, "parent_read"), "hello");
}

/// In a single-test child process: a runtime with a read in flight, then
/// fork. The grandchild must get a clear panic from `block_on`, be able to
/// drop the copy without crashing, and build a fresh runtime; the parent's
/// read must still complete.
#[allow(clippy::async_yields_async)] // the read's handle is the point
fn fork_child_side() {
    let rt = uring();
    let (reader, writer) = ringloop::io::pipe().unwrap();
    let pending = rt.block_on(async {
        let read = ringloop::spawn(async move { reader.read(vec![0u8; 16]).await });
        ringloop::yield_now().await; // the read's SQE is submitted at the next park
        ringloop::nop().await.unwrap();
        read
    });
    // SAFETY: fork in a process whose only other thread is the test
    // harness's, which is blocked waiting for this test.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = grandchild(rt);
        // SAFETY: leave at once, without running the parent's atexit work.
        unsafe { libc::_exit(code) };
    }
    assert!(pid > 0, "fork failed");
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    report("grandchild_exit", libc::WEXITSTATUS(status));
    let text = rt.block_on(async move {
        let (res, _) = writer.write_all(b"hello" as &'static [u8]).await;
        res.unwrap();
        let (n, buf) = pending.await.unwrap();
        String::from_utf8_lossy(&buf[..n.unwrap()]).into_owned()
    });
    report("parent_read", text);
}

fn grandchild(rt: ringloop::Runtime) -> i32 {
    let used = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { ringloop::nop().await })
    }));
    let Err(panic) = used else {
        return 2; // the parent's ring was usable: it must not be
    };
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    if !message.contains("forked child") {
        return 3;
    }
    drop(rt); // must not touch the unmapped ring
    match uring().block_on(async { ringloop::nop().await }) {
        Ok(()) => 0,
        Err(_) => 4,
    }
}
