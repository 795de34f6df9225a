//! Tasks: spawning, joining, aborting, panics, detached tasks, and several
//! runtimes at once.

mod common;

use common::{watchdog, DropCounter};
use ringloop::{spawn, yield_now, Runtime};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

#[test]
fn ten_thousand_concurrent_tasks_each_awaiting_a_nop_and_a_yield_all_join_with_their_outputs() {
    watchdog(60, || {
        let rt = Runtime::new().unwrap();
        let before = rt.stats();
        rt.block_on(async {
            let handles: Vec<_> = (0..10_000u64)
                .map(|i| {
                    spawn(async move {
                        ringloop::nop().await.unwrap();
                        yield_now().await;
                        i * 3 + 1
                    })
                })
                .collect();
            for (i, handle) in handles.into_iter().enumerate() {
                assert_eq!(handle.await.unwrap(), i as u64 * 3 + 1, "task {i}");
            }
        });
        let stats = rt.stats().since(&before);
        assert_eq!(stats.tasks_spawned, 10_000);
        assert_eq!(stats.ops_submitted, 10_000, "one nop per task");
    });
}

#[test]
fn a_task_spawning_tasks_spawning_tasks_gets_every_grandchilds_output() {
    watchdog(30, || {
        let rt = Runtime::new().unwrap();
        let before = rt.stats();
        let total = rt.block_on(async {
            spawn(async {
                let children: Vec<_> = (0..10u64)
                    .map(|c| {
                        spawn(async move {
                            let grandchildren: Vec<_> = (0..10u64)
                                .map(|g| {
                                    spawn(async move {
                                        ringloop::nop().await.unwrap();
                                        c * 10 + g
                                    })
                                })
                                .collect();
                            let mut sum = 0;
                            for h in grandchildren {
                                sum += h.await.unwrap();
                            }
                            sum
                        })
                    })
                    .collect();
                let mut sum = 0;
                for h in children {
                    sum += h.await.unwrap();
                }
                sum
            })
            .await
            .unwrap()
        });
        assert_eq!(total, (0..100).sum::<u64>());
        assert_eq!(rt.stats().since(&before).tasks_spawned, 1 + 10 + 100);
    });
}

#[test]
fn aborting_a_pending_task_drops_its_future_once_and_joins_as_cancelled() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let drops = DropCounter::new();
            let token = drops.token();
            let started = Rc::new(Cell::new(false));
            let flag = Rc::clone(&started);
            let handle = spawn(async move {
                let _token = token;
                flag.set(true);
                std::future::pending::<()>().await;
            });
            while !started.get() {
                yield_now().await;
            }
            assert!(!handle.is_finished());
            assert_eq!(drops.count(), 0, "a pending task keeps its future");

            handle.abort();
            let err = handle.await.unwrap_err();
            assert!(err.is_cancelled(), "{err}");
            assert!(!err.is_panic());
            assert_eq!(
                drops.count(),
                1,
                "the aborted future was dropped exactly once"
            );
        });
    });
}

#[test]
fn aborting_a_task_before_its_first_poll_drops_the_future_unpolled() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let drops = DropCounter::new();
            let token = drops.token();
            let polled = Rc::new(Cell::new(false));
            let flag = Rc::clone(&polled);
            let handle = spawn(async move {
                let _token = token;
                flag.set(true);
            });
            handle.abort();
            assert!(handle.await.unwrap_err().is_cancelled());
            assert!(!polled.get(), "an aborted task never runs");
            assert_eq!(drops.count(), 1);
        });
    });
}

#[test]
fn aborting_a_finished_task_does_nothing() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let handle = spawn(async {
                ringloop::nop().await.unwrap();
                7
            });
            while !handle.is_finished() {
                yield_now().await;
            }
            handle.abort();
            assert_eq!(handle.await.unwrap(), 7, "the output survives a late abort");
        });
    });
}

#[test]
fn a_panicking_task_joins_as_a_panic_with_its_message_while_others_and_the_loop_go_on() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let others: Vec<_> = (0..20u32)
                .map(|i| {
                    spawn(async move {
                        ringloop::nop().await.unwrap();
                        yield_now().await;
                        i
                    })
                })
                .collect();
            let which = std::hint::black_box(3);
            let bomb = spawn(async move {
                ringloop::nop().await.unwrap();
                panic!("task {which} exploded");
            });
            let static_bomb = spawn(async { panic!("static message") });

            let err = bomb.await.unwrap_err();
            assert!(err.is_panic() && !err.is_cancelled());
            assert!(err.to_string().contains("task 3 exploded"), "{err}");
            let payload = err.try_into_panic().unwrap();
            assert_eq!(payload.downcast_ref::<String>().unwrap(), "task 3 exploded");

            let err = static_bomb.await.unwrap_err();
            assert!(err.to_string().contains("static message"), "{err}");

            for (i, other) in others.into_iter().enumerate() {
                assert_eq!(other.await.unwrap(), i as u32);
            }
            // The loop itself survived: new work still runs.
            ringloop::nop().await.unwrap();
            assert_eq!(spawn(async { 5 }).await.unwrap(), 5);
        });
    });
}

#[test]
fn detached_tasks_still_run_to_completion_and_their_outputs_are_dropped() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let finished = Rc::new(Cell::new(0));
            let outputs = DropCounter::new();
            for _ in 0..100 {
                let finished = Rc::clone(&finished);
                let output = outputs.token();
                drop(spawn(async move {
                    ringloop::nop().await.unwrap();
                    yield_now().await;
                    finished.set(finished.get() + 1);
                    output
                }));
            }
            common::eventually("all 100 detached tasks finish", || finished.get() == 100).await;
            common::eventually("their outputs are dropped", || outputs.count() == 100).await;
        });
    });
}

#[test]
fn is_finished_turns_true_only_once_the_task_has_completed() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let (tx, rx) = async_channel::bounded::<u32>(1);
            let handle = spawn(async move { rx.recv().await.unwrap() + 1 });
            for _ in 0..10 {
                yield_now().await;
                assert!(!handle.is_finished(), "still waiting for its message");
            }
            tx.send(41).await.unwrap();
            common::eventually("the task completes", || handle.is_finished()).await;
            assert_eq!(handle.await.unwrap(), 42);
        });
    });
}

#[test]
fn tasks_left_running_when_block_on_returns_resume_at_the_next_block_on() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        let mut handle = None;
        rt.block_on(async {
            handle = Some(spawn(async {
                ringloop::time::sleep(Duration::from_millis(20)).await;
                ringloop::nop().await.unwrap();
                "done"
            }));
        });
        let handle = handle.unwrap();
        assert!(!handle.is_finished());
        assert_eq!(rt.block_on(handle).unwrap(), "done");
    });
}

#[test]
fn several_runtimes_on_several_threads_run_at_once_independently() {
    watchdog(60, || {
        const THREADS: usize = 4;
        const TASKS: u64 = 2_000;
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS as u64)
            .map(|t| {
                let barrier = std::sync::Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let rt = Runtime::new().unwrap();
                    barrier.wait();
                    let sum = rt.block_on(async move {
                        let handles: Vec<_> = (0..TASKS)
                            .map(|i| {
                                spawn(async move {
                                    ringloop::nop().await.unwrap();
                                    ringloop::time::sleep(Duration::from_millis(i % 5)).await;
                                    yield_now().await;
                                    t * 1_000_000 + i
                                })
                            })
                            .collect();
                        let mut sum = 0;
                        for h in handles {
                            sum += h.await.unwrap();
                        }
                        sum
                    });
                    (sum, rt.stats())
                })
            })
            .collect();
        for (t, thread) in threads.into_iter().enumerate() {
            let (sum, stats) = thread.join().unwrap();
            let t = t as u64;
            assert_eq!(
                sum,
                t * 1_000_000 * TASKS + (0..TASKS).sum::<u64>(),
                "runtime {t}"
            );
            assert_eq!(
                stats.tasks_spawned, TASKS,
                "runtime {t} counts only its own tasks"
            );
            assert_eq!(
                stats.ops_submitted, TASKS,
                "runtime {t} counts only its own ops"
            );
        }
    });
}

#[test]
fn twenty_runtimes_alive_at_once_on_one_thread_each_run_their_own_tasks() {
    watchdog(30, || {
        let runtimes: Vec<Runtime> = (0..20).map(|_| Runtime::new().unwrap()).collect();
        let handles: Vec<_> = runtimes
            .iter()
            .enumerate()
            .map(|(i, rt)| {
                let mut handle = None;
                rt.block_on(async {
                    handle = Some(spawn(async move {
                        ringloop::nop().await.unwrap();
                        ringloop::time::sleep(Duration::from_millis(1)).await;
                        i
                    }));
                    ringloop::nop().await.unwrap();
                });
                handle.unwrap()
            })
            .collect();
        for (i, (rt, handle)) in runtimes.iter().zip(handles).enumerate() {
            assert_eq!(rt.block_on(handle).unwrap(), i);
            assert_eq!(
                rt.stats().tasks_spawned,
                1,
                "runtime {i} ran only its own task"
            );
        }
    });
}

#[test]
fn a_future_whose_drop_panics_during_abort_joins_as_a_panic_and_the_loop_goes_on() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("drop exploded");
        }
    }
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let handle = spawn(async {
                let _bomb = PanicOnDrop;
                std::future::pending::<()>().await;
            });
            yield_now().await;
            handle.abort();
            let err = handle.await.unwrap_err();
            assert!(err.is_panic(), "{err}");
            assert!(err.to_string().contains("drop exploded"), "{err}");
            assert_eq!(spawn(async { 1 }).await.unwrap(), 1);
        });
    });
}

#[test]
fn a_panic_in_the_block_on_future_propagates_and_the_runtime_stays_usable() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async {
                ringloop::nop().await.unwrap();
                panic!("root failed");
            })
        }));
        let payload = caught.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"root failed"));
        let again = rt.block_on(async {
            ringloop::nop().await.unwrap();
            spawn(async { 2 }).await.unwrap()
        });
        assert_eq!(again, 2);
    });
}

#[test]
fn a_task_that_only_yields_does_not_starve_io_timers_or_the_root_future() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let stop = Rc::new(Cell::new(false));
            let spins = Rc::new(Cell::new(0u64));
            let spinner = {
                let (stop, spins) = (Rc::clone(&stop), Rc::clone(&spins));
                spawn(async move {
                    while !stop.get() {
                        spins.set(spins.get() + 1);
                        yield_now().await;
                    }
                })
            };
            for _ in 0..100 {
                ringloop::nop().await.unwrap();
            }
            ringloop::time::sleep(Duration::from_millis(5)).await;
            assert!(spins.get() > 0, "the spinner ran meanwhile");
            stop.set(true);
            spinner.await.unwrap();
        });
    });
}

#[test]
fn spawn_outside_a_runtime_panics_with_a_message_naming_the_mistake() {
    let caught = std::panic::catch_unwind(|| drop(spawn(async {})));
    let payload = caught.expect_err("spawn needs a runtime");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(message.contains("inside a ringloop runtime"), "{message}");
}

/// A value whose drop panics; its token is dropped as the panic unwinds.
struct PanicsOnDrop {
    _token: common::DropToken,
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("drop after ready exploded");
    }
}

#[test]
fn a_future_whose_drop_panics_after_it_returned_ready_joins_as_that_panic_once() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        let drops = DropCounter::new();
        rt.block_on(async {
            let token = drops.token();
            let handle = spawn(async move {
                let _bomb = PanicsOnDrop { _token: token };
                yield_now().await;
                7
            });
            let err = handle.await.unwrap_err();
            assert!(err.is_panic(), "{err}");
            assert!(err.to_string().contains("drop after ready"), "{err}");
            assert_eq!(drops.count(), 1, "the future is dropped exactly once");
            assert_eq!(spawn(async { 1 }).await.unwrap(), 1);
        });
        drop(rt);
        assert_eq!(drops.count(), 1);
    });
}

#[test]
fn every_output_is_dropped_exactly_once_whoever_ends_up_owning_it() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        let outputs = DropCounter::new();
        let futures = DropCounter::new();
        // The last handle is kept past the runtime on purpose.
        #[allow(clippy::async_yields_async)]
        let kept = rt.block_on(async {
            let task = |yields: usize| {
                let output = outputs.token();
                let future = futures.token();
                spawn(async move {
                    let _future = future;
                    for _ in 0..yields {
                        yield_now().await;
                    }
                    output
                })
            };
            // Taken by the awaiting task, which drops it.
            drop(task(1).await.unwrap());
            assert_eq!(outputs.count(), 1);
            // Finished before its handle is dropped: the handle's drop drops it.
            let done = task(0);
            yield_now().await;
            assert!(done.is_finished());
            drop(done);
            assert_eq!(outputs.count(), 2);
            // Handle dropped first: dropped when the task finishes.
            drop(task(2));
            common::eventually("the detached output is dropped", || outputs.count() == 3).await;
            // Finished, never awaited, handle kept past the runtime.
            let kept = task(0);
            yield_now().await;
            assert!(kept.is_finished());
            kept
        });
        assert_eq!(futures.count(), 4, "each finished future was dropped once");
        drop(rt);
        assert_eq!(
            outputs.count(),
            3,
            "the kept output lives in the task until its handle goes"
        );
        drop(kept);
        assert_eq!(outputs.count(), 4);
        assert_eq!(futures.count(), 4);
    });
}

#[test]
fn dropping_the_runtime_drops_every_live_future_also_those_spawned_by_a_dropping_future() {
    /// Spawns a pending task, holding `token`, when dropped.
    struct SpawnsOnDrop(Option<common::DropToken>);
    impl Drop for SpawnsOnDrop {
        fn drop(&mut self) {
            let token = self.0.take();
            drop(spawn(async move {
                let _token = token;
                std::future::pending::<()>().await;
            }));
        }
    }
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        let live = DropCounter::new();
        let handles = rt.block_on(async {
            let mut handles = Vec::new();
            for i in 0..100 {
                let token = live.token();
                let spawner = (i % 10 == 0).then(|| SpawnsOnDrop(Some(live.token())));
                handles.push(spawn(async move {
                    let _token = token;
                    let _spawner = spawner;
                    std::future::pending::<()>().await;
                }));
            }
            yield_now().await;
            handles
        });
        assert_eq!(live.count(), 0);
        drop(rt);
        assert_eq!(
            live.count(),
            110,
            "100 futures and the 10 spawned by their drops"
        );
        for handle in handles {
            assert!(handle.is_finished());
        }
    });
}
