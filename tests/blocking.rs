//! `spawn_blocking`: results and panics come back to the task; the pool is
//! bounded, yet grows to its bound when jobs are waiting.
//!
//! The pool is shared by the whole process, so a test that needs a pool in
//! a known state runs in a child process ([`common::run_in_child`]).

mod common;

use common::watchdog;
use ringloop::{spawn_blocking, Runtime};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most threads the blocking pool may run (`ringloop`'s documented bound).
const POOL_BOUND: usize = 16;

/// Threads of this process named like the pool's (`ringloop-blocking`,
/// which Linux shortens to 15 bytes in `/proc/self/task/*/comm`). The pool
/// is shared by every runtime of the process, so this counts all of it.
fn blocking_pool_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task is readable")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.starts_with("ringloop-block"))
        .count()
}

#[test]
fn spawn_blocking_returns_the_closures_value_computed_on_another_thread() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        let here = std::thread::current().id();
        let (value, there) = rt
            .block_on(async { spawn_blocking(|| (6 * 7, std::thread::current().id())).await })
            .unwrap();
        assert_eq!(value, 42);
        assert_ne!(there, here, "the closure ran off the loop's thread");
    });
}

#[test]
fn a_panicking_blocking_closure_joins_as_a_panic_with_its_message() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let err = spawn_blocking(|| -> u32 { panic!("blocking job failed") })
                .await
                .unwrap_err();
            assert!(err.is_panic() && !err.is_cancelled());
            assert!(err.to_string().contains("blocking job failed"), "{err}");
            // The pool and the loop are still fine.
            assert_eq!(spawn_blocking(|| 1).await.unwrap(), 1);
        });
    });
}

#[test]
fn sixty_four_concurrent_blocking_jobs_complete_on_a_pool_of_at_most_sixteen_threads() {
    const JOBS: usize = 64;
    const NAP: Duration = Duration::from_millis(40);
    watchdog(30, || {
        let running = Arc::new(AtomicUsize::new(0));
        let most_running = Arc::new(AtomicUsize::new(0));
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let sampling = Arc::clone(&sampling);
            std::thread::spawn(move || {
                let mut most = 0;
                while sampling.load(Ordering::SeqCst) {
                    most = most.max(blocking_pool_threads());
                    std::thread::sleep(Duration::from_millis(2));
                }
                most
            })
        };

        let rt = Runtime::new().unwrap();
        let started = Instant::now();
        let results = rt.block_on(async {
            let handles: Vec<_> = (0..JOBS)
                .map(|i| {
                    let running = Arc::clone(&running);
                    let most_running = Arc::clone(&most_running);
                    spawn_blocking(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most_running.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(NAP);
                        running.fetch_sub(1, Ordering::SeqCst);
                        i * i
                    })
                })
                .collect();
            let mut results = Vec::new();
            for h in handles {
                results.push(h.await.unwrap());
            }
            results
        });
        let took = started.elapsed();
        sampling.store(false, Ordering::SeqCst);
        let most_threads = sampler.join().unwrap();

        assert_eq!(results, (0..JOBS).map(|i| i * i).collect::<Vec<_>>());
        let most_running = most_running.load(Ordering::SeqCst);
        assert!(
            (2..=POOL_BOUND).contains(&most_running),
            "{most_running} jobs ran at once: expected parallelism, bounded by the pool"
        );
        assert!(
            most_threads >= 2,
            "the sampler never saw the pool's threads in /proc/self/task ({most_threads})"
        );
        assert!(
            most_threads <= POOL_BOUND,
            "the pool grew to {most_threads} threads (bound: {POOL_BOUND})"
        );
        assert!(
            took >= NAP * (JOBS / POOL_BOUND) as u32,
            "{JOBS} jobs of {NAP:?} on {POOL_BOUND} threads cannot finish in {took:?}"
        );
    });
}

#[test]
fn aborting_a_blocking_handle_stops_the_wait_but_the_closure_still_runs_to_the_end() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        let started = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        rt.block_on(async {
            let handle = {
                let (started, finished) = (Arc::clone(&started), Arc::clone(&finished));
                spawn_blocking(move || {
                    started.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(50));
                    finished.store(true, Ordering::SeqCst);
                })
            };
            while !started.load(Ordering::SeqCst) {
                ringloop::time::sleep(Duration::from_millis(1)).await;
            }
            handle.abort();
            assert!(handle.await.unwrap_err().is_cancelled());
            assert!(
                !finished.load(Ordering::SeqCst),
                "abort returned without waiting for the job"
            );
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while !finished.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the job never finished");
            std::thread::sleep(Duration::from_millis(5));
        }
    });
}

#[test]
fn dropping_the_runtime_while_a_blocking_job_runs_neither_hangs_nor_crashes_the_job() {
    watchdog(10, || {
        let finished = Arc::new(AtomicBool::new(false));
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let finished = Arc::clone(&finished);
            drop(spawn_blocking(move || {
                std::thread::sleep(Duration::from_millis(30));
                finished.store(true, Ordering::SeqCst);
                "result nobody awaits"
            }));
            ringloop::yield_now().await;
        });
        let started = Instant::now();
        drop(rt);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "drop waited for the blocking job"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while !finished.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the job never finished");
            std::thread::sleep(Duration::from_millis(5));
        }
        // Its completion woke a task of a runtime that is gone: nothing breaks,
        // and a new runtime works.
        std::thread::sleep(Duration::from_millis(10));
        let rt = Runtime::new().unwrap();
        assert_eq!(
            rt.block_on(async { spawn_blocking(|| 3).await.unwrap() }),
            3
        );
    });
}

/// Set in the child process of the test below (it needs a fresh pool).
const FRESH_POOL_CHILD: &str = "RINGLOOP_TEST_FRESH_POOL_CHILD";

#[test]
fn a_burst_on_a_pool_with_one_idle_thread_grows_the_pool_instead_of_queueing_behind_it() {
    const TEST: &str =
        "a_burst_on_a_pool_with_one_idle_thread_grows_the_pool_instead_of_queueing_behind_it";
    const JOBS: usize = 16;
    const NAP: Duration = Duration::from_millis(50);
    if std::env::var_os(FRESH_POOL_CHILD).is_some() {
        // Child: a fresh pool with exactly one thread, idle; then a burst of
        // jobs no bigger than the pool's bound.
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            spawn_blocking(|| ()).await.unwrap();
            ringloop::time::sleep(Duration::from_millis(20)).await;
            let running = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let started = Instant::now();
            let handles: Vec<_> = (0..JOBS)
                .map(|_| {
                    let (running, most) = (Arc::clone(&running), Arc::clone(&most));
                    spawn_blocking(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(NAP);
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
            common::report("most", most.load(Ordering::SeqCst));
            common::report("took_ms", started.elapsed().as_millis());
        });
        return;
    }
    // Whether the one idle thread wakes before the next job is submitted is
    // a race: three fresh processes make a pool that queues show itself.
    for attempt in 1..=3 {
        let report = common::run_in_child(TEST, FRESH_POOL_CHILD, "1", Duration::from_secs(20));
        let most: usize = common::reported(&report, "most").parse().unwrap();
        let took = common::reported(&report, "took_ms");
        assert!(
            most > JOBS / 2,
            "attempt {attempt}: only {most} of {JOBS} jobs ran at once ({took} ms for jobs of \
             {NAP:?}): the pool (bound {POOL_BOUND}) queued them behind its one idle thread \
             instead of starting threads"
        );
    }
}
