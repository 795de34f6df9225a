//! `#[ringloop::main]` and `#[ringloop::test]`: an `async fn` becomes a
//! function that builds a runtime and blocks on it.
//!
//! Each test here is bounded by the macro's own watchdog (`timeout`, in
//! seconds), which is itself tested below.

use ringloop::Driver;
use std::io;
use std::time::Duration;

/// Which driver the test's runtime runs on (from the counters: only epoll
/// counts `epoll_wait`s, only io_uring counts `io_uring_enter`s).
async fn current_driver() -> Driver {
    let before = ringloop::stats();
    ringloop::time::sleep(Duration::from_millis(1)).await;
    let after = ringloop::stats().since(&before);
    if after.epoll_waits > 0 {
        Driver::Epoll
    } else {
        Driver::Uring
    }
}

#[ringloop::test(timeout = 10)]
async fn a_test_runs_its_body_on_a_runtime() {
    let task = ringloop::spawn(async { 6 * 7 });
    assert_eq!(task.await.unwrap(), 42);
}

#[ringloop::test(timeout = 10)]
async fn a_test_may_return_a_result_and_use_the_question_mark() -> io::Result<()> {
    ringloop::nop().await?;
    let listener = ringloop::net::TcpListener::bind("127.0.0.1:0").await?;
    listener.local_addr()?;
    Ok(())
}

#[ringloop::test(driver = "epoll", timeout = 10)]
async fn driver_epoll_builds_an_epoll_runtime() {
    assert_eq!(current_driver().await, Driver::Epoll);
}

#[ringloop::test(driver = "uring", timeout = 10)]
async fn driver_uring_builds_an_io_uring_runtime() {
    assert_eq!(current_driver().await, Driver::Uring);
}

/// Two tests: `on_both_drivers::uring` and `on_both_drivers::epoll`.
#[ringloop::test(driver = "both", timeout = 10)]
async fn on_both_drivers() -> io::Result<()> {
    let (a, b) = ringloop::net::UnixStream::pair()?;
    let (res, _) = a.write_all(b"ping".to_vec()).await;
    res?;
    let (res, buf) = b.read(vec![0u8; 8]).await;
    assert_eq!(&buf[..res?], b"ping");
    Ok(())
}

/// The generated tests are real items: they can be called by name.
#[test]
fn driver_both_makes_one_test_per_driver_named_after_it() {
    on_both_drivers::uring().unwrap();
    on_both_drivers::epoll().unwrap();
}

#[ringloop::test(driver = "both", timeout = 10)]
async fn each_driver_test_runs_on_its_driver() {
    let want = if std::thread::current()
        .name()
        .unwrap_or("")
        .contains("::epoll")
    {
        Driver::Epoll
    } else {
        Driver::Uring
    };
    assert_eq!(current_driver().await, want);
}

#[ringloop::test(entries = 4, timeout = 10)]
async fn entries_sizes_the_ring_and_a_small_ring_still_completes_everything() {
    let tasks: Vec<_> = (0..64).map(|_| ringloop::spawn(ringloop::nop())).collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
}

#[ringloop::test(timeout = 10)]
#[should_panic(expected = "the body's own panic")]
async fn a_panic_in_the_body_fails_the_test_with_its_message() {
    ringloop::yield_now().await;
    panic!("the body's own panic");
}

#[ringloop::test(timeout = 1)]
#[should_panic(expected = "did not finish within 1 s")]
async fn a_test_that_hangs_fails_at_its_timeout() {
    // Parks forever: nothing will ever wake this task.
    std::future::pending::<()>().await;
}

#[ringloop::test]
async fn without_a_timeout_the_test_runs_on_the_test_thread() {
    let name = std::thread::current().name().map(str::to_string);
    assert_eq!(
        name.as_deref(),
        Some("without_a_timeout_the_test_runs_on_the_test_thread")
    );
}

mod main_macro {
    /// `#[ringloop::main]` on an `async fn main` of a nested module: the
    /// same expansion as in a binary (examples/hyper.rs uses it there).
    #[ringloop::main(driver = "epoll")]
    async fn main() -> std::io::Result<u32> {
        ringloop::nop().await?;
        Ok(7)
    }

    #[test]
    fn main_blocks_on_its_body_and_returns_its_output() {
        assert_eq!(main().unwrap(), 7);
    }
}
