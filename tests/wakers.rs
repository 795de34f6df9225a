//! Wakers: woken from other threads, by other crates' futures, by other
//! runtimes; never lost, counted apart from local wakes.

mod common;

use common::watchdog;
use ringloop::{spawn, yield_now, Runtime};
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

// A ringloop task's waker is a `std::task::Waker`, which must be Send + Sync:
// the runtime promises it is sound to wake it from any thread (the tests
// below do it a million times).
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Waker>();
};

/// A counter bumped by another thread and the waker of the task watching it.
#[derive(Default)]
struct Watched {
    count: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

impl Watched {
    /// Thread side: bump, then wake whoever is registered.
    fn bump_and_wake(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
        if let Some(waker) = self.waker.lock().unwrap().as_ref() {
            waker.wake_by_ref();
        }
    }

    /// Task side: register first, then look (so no bump is missed).
    fn poll_reached(&self, cx: &mut std::task::Context<'_>, target: usize) -> Poll<usize> {
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        let seen = self.count.load(Ordering::SeqCst);
        if seen >= target {
            Poll::Ready(seen)
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn a_million_wakes_from_a_std_thread_are_all_observed_by_the_task() {
    const WAKES: usize = 1_000_000;
    let elapsed = watchdog(60, || {
        let rt = Runtime::new().unwrap();
        let watched = Arc::new(Watched::default());
        let started = Instant::now();
        let (observed, polls) = rt.block_on(async {
            let task = {
                let watched = Arc::clone(&watched);
                spawn(async move {
                    let mut polls = 0usize;
                    let mut last = 0;
                    let observed = poll_fn(|cx| {
                        polls += 1;
                        let poll = watched.poll_reached(cx, WAKES);
                        let seen = watched.count.load(Ordering::SeqCst);
                        assert!(seen >= last, "the count went backwards: {last} -> {seen}");
                        last = seen;
                        poll
                    })
                    .await;
                    (observed, polls)
                })
            };
            // Start the waker thread only once the task is parked on it.
            while watched.waker.lock().unwrap().is_none() {
                yield_now().await;
            }
            let waker_thread = {
                let watched = Arc::clone(&watched);
                std::thread::spawn(move || {
                    for _ in 0..WAKES {
                        watched.bump_and_wake();
                    }
                })
            };
            let result = task.await.unwrap();
            assert!(waker_thread.join().is_ok());
            result
        });
        assert_eq!(observed, WAKES, "the task saw every increment");
        assert!(polls >= 2, "the task was woken to see them ({polls} polls)");
        assert!(
            rt.stats().remote_wakes > 0,
            "the wakes went through the remote queue"
        );
        started.elapsed()
    });
    assert!(
        elapsed < Duration::from_secs(20),
        "a million remote wakes took {elapsed:?}"
    );
}

#[test]
fn ten_thousand_lock_step_round_trips_with_a_std_thread_never_lose_a_wake() {
    // Each round, the task waits for the thread and the thread for the task:
    // a single lost wake-up hangs the test (and the watchdog reports it).
    const ROUNDS: usize = 10_000;
    watchdog(60, || {
        let rt = Runtime::new().unwrap();
        let to_task = Arc::new(Watched::default());
        let to_thread = Arc::new(AtomicUsize::new(0));
        let before = rt.stats();
        rt.block_on(async {
            let thread = {
                let to_task = Arc::clone(&to_task);
                let to_thread = Arc::clone(&to_thread);
                std::thread::spawn(move || {
                    for round in 1..=ROUNDS {
                        while to_thread.load(Ordering::SeqCst) < round {
                            std::thread::park_timeout(Duration::from_millis(10));
                        }
                        to_task.bump_and_wake();
                    }
                })
            };
            let unparker = thread.thread().clone();
            spawn(async move {
                for round in 1..=ROUNDS {
                    to_thread.store(round, Ordering::SeqCst);
                    unparker.unpark();
                    poll_fn(|cx| to_task.poll_reached(cx, round)).await;
                }
            })
            .await
            .unwrap();
            assert!(thread.join().is_ok());
        });
        let stats = rt.stats().since(&before);
        assert!(stats.remote_wakes > 0);
        assert!(
            stats.unparks > 0,
            "at least some wakes had to end the loop's sleep: {stats:?}"
        );
    });
}

#[test]
fn async_channel_carries_100k_messages_from_a_thread_to_a_task_and_back() {
    const MESSAGES: u64 = 100_000;
    watchdog(60, || {
        let (to_task, from_thread) = async_channel::bounded::<u64>(16);
        let (to_thread, from_task) = async_channel::bounded::<u64>(16);
        let producer = std::thread::spawn(move || {
            for i in 0..MESSAGES {
                to_task.send_blocking(i).unwrap();
            }
        });
        let consumer = std::thread::spawn(move || {
            let mut expected = 0;
            while let Ok(v) = from_task.recv_blocking() {
                assert_eq!(
                    v,
                    expected * 2 + 1,
                    "messages come back in order, transformed"
                );
                expected += 1;
            }
            expected
        });
        let rt = Runtime::new().unwrap();
        let relayed = rt.block_on(async move {
            spawn(async move {
                let mut relayed = 0;
                while let Ok(v) = from_thread.recv().await {
                    to_thread.send(v * 2 + 1).await.unwrap();
                    relayed += 1;
                }
                relayed
            })
            .await
            .unwrap()
        });
        assert!(producer.join().is_ok());
        assert_eq!(relayed, MESSAGES);
        assert_eq!(
            consumer.join().unwrap(),
            MESSAGES,
            "every message came back"
        );
        assert!(rt.stats().remote_wakes > 0);
    });
}

#[test]
fn stats_count_wakes_on_the_owning_thread_as_local_and_from_another_thread_as_remote() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let before = ringloop::stats();
            spawn(async {
                for _ in 0..100 {
                    yield_now().await;
                }
            })
            .await
            .unwrap();
            let local = ringloop::stats().since(&before);
            assert!(local.local_wakes >= 100, "100 yields: {local:?}");
            assert_eq!(local.remote_wakes, 0, "nothing came from another thread");

            let watched = Arc::new(Watched::default());
            let task = {
                let watched = Arc::clone(&watched);
                spawn(async move { poll_fn(|cx| watched.poll_reached(cx, 1)).await })
            };
            while watched.waker.lock().unwrap().is_none() {
                yield_now().await;
            }
            let before = ringloop::stats();
            let thread = {
                let watched = Arc::clone(&watched);
                std::thread::spawn(move || watched.bump_and_wake())
            };
            assert_eq!(task.await.unwrap(), 1);
            assert!(thread.join().is_ok());
            let remote = ringloop::stats().since(&before);
            assert_eq!(
                remote.remote_wakes, 1,
                "one wake from another thread: {remote:?}"
            );
        });
    });
}

#[test]
fn tasks_of_two_runtimes_on_two_threads_wake_each_other() {
    const ROUNDS: u64 = 10_000;
    watchdog(60, || {
        let (ping_tx, ping_rx) = async_channel::bounded::<u64>(1);
        let (pong_tx, pong_rx) = async_channel::bounded::<u64>(1);
        let echo = std::thread::spawn(move || {
            let rt = Runtime::new().unwrap();
            let echoed = rt.block_on(async move {
                spawn(async move {
                    let mut n = 0;
                    while let Ok(v) = ping_rx.recv().await {
                        pong_tx.send(v + 1).await.unwrap();
                        n += 1;
                    }
                    n
                })
                .await
                .unwrap()
            });
            (echoed, rt.stats().remote_wakes)
        });
        let rt = Runtime::new().unwrap();
        rt.block_on(async move {
            spawn(async move {
                for i in 0..ROUNDS {
                    ping_tx.send(i).await.unwrap();
                    assert_eq!(pong_rx.recv().await.unwrap(), i + 1);
                }
            })
            .await
            .unwrap();
        });
        let (echoed, echo_remote_wakes) = echo.join().unwrap();
        assert_eq!(echoed, ROUNDS);
        assert!(rt.stats().remote_wakes > 0 && echo_remote_wakes > 0);
    });
}

#[test]
fn a_waker_woken_after_its_runtime_was_dropped_does_nothing() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        let watched = Arc::new(Watched::default());
        rt.block_on(async {
            let watched = Arc::clone(&watched);
            drop(spawn(async move {
                poll_fn(|cx| watched.poll_reached(cx, 1)).await;
            }));
            yield_now().await;
        });
        let waker = watched
            .waker
            .lock()
            .unwrap()
            .clone()
            .expect("the task registered");
        drop(rt);
        // From this thread and from another: no crash, no hang.
        waker.wake_by_ref();
        std::thread::spawn(move || waker.wake()).join().unwrap();
    });
}

#[test]
fn a_task_of_an_idle_runtime_woken_from_another_runtime_on_the_same_thread_runs_at_its_next_block_on(
) {
    watchdog(10, || {
        let a = Runtime::new().unwrap();
        let b = Runtime::new().unwrap();
        let (tx, rx) = async_channel::bounded::<u32>(1);
        let mut waiting = None;
        a.block_on(async {
            waiting = Some(spawn(async move { rx.recv().await.unwrap() }));
            yield_now().await;
        });
        let waiting = waiting.unwrap();
        assert!(!waiting.is_finished());
        b.block_on(async move { tx.send(7).await.unwrap() });
        assert!(
            b.stats().tasks_polled <= 1,
            "runtime b never polls runtime a's task"
        );
        assert_eq!(a.block_on(waiting).unwrap(), 7);
        assert!(a.stats().remote_wakes >= 1, "the wake crossed runtimes");
    });
}

#[test]
fn the_block_on_future_itself_is_woken_from_another_thread() {
    const MESSAGES: u32 = 10_000;
    watchdog(30, || {
        let (tx, rx) = async_channel::bounded::<u32>(4);
        let producer = std::thread::spawn(move || {
            for i in 0..MESSAGES {
                tx.send_blocking(i).unwrap();
            }
        });
        let rt = Runtime::new().unwrap();
        let received = rt.block_on(async move {
            let mut expected = 0;
            while let Ok(v) = rx.recv().await {
                assert_eq!(v, expected);
                expected += 1;
            }
            expected
        });
        assert!(producer.join().is_ok());
        assert_eq!(received, MESSAGES);
    });
}
