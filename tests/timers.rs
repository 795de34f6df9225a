//! Timers: sleeps, timeouts and intervals never fire early, cost no SQEs,
//! and scale to 100k at once.

mod common;

use common::{watchdog, DropCounter, Rng};
use ringloop::time::{interval, sleep, sleep_until, timeout};
use ringloop::{spawn, Runtime};
use std::time::{Duration, Instant};

#[test]
fn a_hundred_thousand_random_sleeps_all_fire_none_early_and_cost_no_sqes() {
    const SLEEPS: usize = 100_000;
    watchdog(60, || {
        let mut rng = Rng::from_env_or_clock("100k sleeps");
        let durations: Vec<Duration> = (0..SLEEPS)
            .map(|_| Duration::from_micros(rng.below(200_000)))
            .collect();
        let rt = Runtime::new().unwrap();
        let before = rt.stats();
        let early = rt.block_on(async move {
            let handles: Vec<_> = durations
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
                    spawn(async move {
                        let deadline = Instant::now() + d;
                        if i % 2 == 0 {
                            sleep_until(deadline).await;
                        } else {
                            sleep(d).await;
                        }
                        // `None` if on time, the shortfall if early.
                        deadline.checked_duration_since(Instant::now())
                    })
                })
                .collect();
            let mut early = Vec::new();
            for (i, h) in handles.into_iter().enumerate() {
                if let Some(short) = h.await.unwrap().filter(|s| !s.is_zero()) {
                    early.push((i, short));
                }
            }
            early
        });
        assert!(
            early.is_empty(),
            "{} sleeps woke early, e.g. {:?}",
            early.len(),
            &early[..early.len().min(5)]
        );
        let stats = rt.stats().since(&before);
        assert!(
            stats.ops_submitted < 1_000,
            "timers live in user space, yet {} SQEs were pushed for {SLEEPS} sleeps",
            stats.ops_submitted
        );
        assert!(stats.timers_fired > 0);
    });
}

#[test]
fn ten_thousand_sleeps_registered_ahead_of_time_never_wake_before_their_deadline() {
    // The 100k test above is dominated by first polls: its timers mostly
    // fire while the loop is still busy, so a timer firing slightly early
    // would be polled late anyway and go unnoticed. Here every timer is
    // registered well before its deadline, the loop is idle when they come
    // due, and each task looks at the clock as soon as it is polled.
    const SLEEPS: usize = 10_000;
    watchdog(60, || {
        let mut rng = Rng::from_env_or_clock("sleeps registered ahead");
        let offsets: Vec<Duration> = (0..SLEEPS)
            .map(|_| Duration::from_micros(rng.below(200_000)))
            .collect();
        let rt = Runtime::new().unwrap();
        let (early, on_time) = rt.block_on(async move {
            let go = Instant::now() + Duration::from_millis(100);
            let handles: Vec<_> = offsets
                .into_iter()
                .map(|offset| {
                    spawn(async move {
                        let deadline = go + offset;
                        sleep_until(deadline).await;
                        deadline.checked_duration_since(Instant::now())
                    })
                })
                .collect();
            let (mut early, mut on_time) = (Vec::new(), 0);
            for h in handles {
                match h.await.unwrap().filter(|s| !s.is_zero()) {
                    Some(short) => early.push(short),
                    None => on_time += 1,
                }
            }
            (early, on_time)
        });
        assert!(
            early.is_empty(),
            "{} of {SLEEPS} sleeps woke early, by up to {:?}",
            early.len(),
            early.iter().max()
        );
        assert_eq!(on_time, SLEEPS);
    });
}

#[test]
fn timeout_of_a_future_that_never_completes_is_elapsed_no_sooner_than_its_duration() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let start = Instant::now();
            let result = timeout(Duration::from_millis(50), std::future::pending::<()>()).await;
            assert!(
                result.is_err(),
                "a never-ready future cannot finish in time"
            );
            assert!(
                start.elapsed() >= Duration::from_millis(50),
                "elapsed early: {:?}",
                start.elapsed()
            );
            let err: std::io::Error = result.unwrap_err().into();
            assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        });
    });
}

#[test]
fn timeout_of_a_quick_future_returns_its_output_without_waiting_the_duration() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let start = Instant::now();
            let result = timeout(Duration::from_secs(5), async {
                ringloop::nop().await.unwrap();
                9
            })
            .await;
            assert_eq!(result, Ok(9));
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "took {:?}",
                start.elapsed()
            );
        });
    });
}

#[test]
fn an_elapsed_timeout_drops_the_inner_future() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let drops = DropCounter::new();
            let token = drops.token();
            let inner = async move {
                let _token = token;
                std::future::pending::<()>().await;
            };
            assert!(timeout(Duration::from_millis(5), inner).await.is_err());
            assert_eq!(drops.count(), 1);
        });
    });
}

#[test]
fn interval_ticks_are_spaced_by_the_period_and_never_early() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let period = Duration::from_millis(20);
            let mut ticks = interval(period);
            let first = ticks.tick().await;
            assert!(first.elapsed() < period, "the first tick is immediate");
            for k in 1..=10u32 {
                let at = ticks.tick().await;
                let now = Instant::now();
                assert_eq!(at - first, period * k, "tick {k} is on the schedule");
                assert!(now >= at, "tick {k} came {:?} early", at - now);
            }
            assert!(first.elapsed() >= period * 10);
        });
    });
}

#[test]
fn an_interval_that_fell_behind_catches_up_with_back_to_back_ticks_on_its_schedule() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let period = Duration::from_millis(10);
            let mut ticks = interval(period);
            let first = ticks.tick().await;
            // Stall the loop for five and a half periods.
            std::thread::sleep(period * 11 / 2);
            let stalled_until = Instant::now();
            for k in 1..=5u32 {
                let at = ticks.tick().await;
                assert_eq!(at - first, period * k, "missed tick {k} keeps its slot");
                assert!(at <= stalled_until, "missed tick {k} comes at once");
            }
            let sixth = ticks.tick().await;
            assert_eq!(sixth - first, period * 6);
            assert!(
                Instant::now() >= sixth,
                "the first tick after catching up is not early"
            );
        });
    });
}

#[test]
fn sleep_until_a_past_deadline_is_ready_at_once() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let before = ringloop::stats();
            sleep_until(Instant::now() - Duration::from_millis(1)).await;
            sleep(Duration::ZERO).await;
            assert_eq!(
                ringloop::stats().since(&before).timers_fired,
                0,
                "no timer was needed"
            );
        });
    });
}
