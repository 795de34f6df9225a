//! Thread-per-core: one runtime per thread, `spawn_on` between cores.

mod common;

use common::watchdog;
use ringloop::{cores, current_core, spawn_on, Builder, Driver};

#[test]
fn each_core_runs_its_root_future_and_outputs_come_back_in_core_order() {
    let outputs = watchdog(20, || {
        cores(3, |core| async move {
            (
                core,
                current_core(),
                std::thread::current().name().map(str::to_owned),
            )
        })
        .unwrap()
    });
    for (i, (core, current, name)) in outputs.into_iter().enumerate() {
        assert_eq!(core, i);
        assert_eq!(current, Some(i));
        assert_eq!(name.as_deref(), Some(format!("ringloop-core-{i}").as_str()));
    }
    assert_eq!(current_core(), None, "outside a group there is no core");
}

#[test]
fn spawn_on_runs_a_send_future_on_the_chosen_core_and_returns_its_output() {
    let outputs = watchdog(20, || {
        Builder::new()
            .threads(2)
            .pin_threads(true)
            .run(|core| async move {
                if core == 0 {
                    let on_one = spawn_on(1, async { (current_core(), 21 * 2) })
                        .await
                        .unwrap();
                    Some(on_one)
                } else {
                    // Core 1 stays up long enough to serve core 0's request.
                    ringloop::time::sleep(std::time::Duration::from_millis(200)).await;
                    None
                }
            })
            .unwrap()
    });
    assert_eq!(outputs[0], Some((Some(1), 42)));
}

#[test]
fn cores_talk_through_a_runtime_agnostic_channel() {
    let outputs = watchdog(20, || {
        let (tx, rx) = async_channel::bounded::<u64>(16);
        Builder::new()
            .threads(2)
            .run(move |core| {
                let (tx, rx) = (tx.clone(), rx.clone());
                async move {
                    if core == 0 {
                        for i in 0..10_000 {
                            tx.send(i).await.unwrap();
                        }
                        0
                    } else {
                        let mut sum = 0;
                        for _ in 0..10_000 {
                            sum += rx.recv().await.unwrap();
                        }
                        sum
                    }
                }
            })
            .unwrap()
    });
    assert_eq!(outputs[1], (0..10_000).sum::<u64>());
}

#[test]
fn a_panic_on_one_core_is_raised_by_run_after_every_core_ends() {
    let result = std::panic::catch_unwind(|| {
        cores(2, |core| async move {
            if core == 1 {
                panic!("core 1 failed");
            }
            core
        })
    });
    let panic = result.expect_err("the panic propagates");
    let message = panic.downcast_ref::<&str>().copied().unwrap_or_default();
    assert_eq!(message, "core 1 failed");
}

#[test]
fn the_readiness_driver_runs_per_core_too() {
    let outputs = watchdog(20, || {
        Builder::new()
            .threads(2)
            .driver(Driver::Epoll)
            .run(|core| async move {
                ringloop::nop().await.unwrap();
                (core, ringloop::stats().enters, ringloop::stats().attempts)
            })
            .unwrap()
    });
    assert_eq!(
        outputs,
        [(0, 0, 1), (1, 0, 1)],
        "no io_uring_enter, one op each"
    );
}

#[test]
fn an_observer_is_refused_for_a_group_of_cores() {
    let err = Builder::new()
        .threads(2)
        .on_event(|_| {})
        .run(|_| async {})
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn a_wake_from_one_core_to_another_sleeping_core_travels_as_a_msg_ring_cqe() {
    // Core 1 sleeps in io_uring_enter waiting for a message; core 0 sends
    // it. Core 0's loop ends core 1's sleep by posting a CQE into core 1's
    // ring (IORING_OP_MSG_RING, Linux 5.18+) instead of writing its eventfd.
    let outputs = watchdog(20, || {
        let (tx, rx) = async_channel::bounded::<u32>(1);
        Builder::new()
            .threads(2)
            .driver(Driver::Uring)
            .run(move |core| {
                let (tx, rx) = (tx.clone(), rx.clone());
                async move {
                    if core == 0 {
                        for i in 0..20 {
                            // Give core 1 time to go to sleep each time.
                            ringloop::time::sleep(std::time::Duration::from_millis(5)).await;
                            tx.send(i).await.unwrap();
                        }
                    } else {
                        for i in 0..20 {
                            assert_eq!(rx.recv().await.unwrap(), i);
                        }
                    }
                    ringloop::stats().msg_ring_wakes
                }
            })
            .unwrap()
    });
    assert!(
        outputs[0] > 0,
        "core 0 woke the sleeping core 1 with MSG_RING: {outputs:?}"
    );
}
