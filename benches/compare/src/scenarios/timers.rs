//! `timers`: N concurrent sleeps on one thread: memory per sleeping task and
//! how late the sleeps wake.
//!
//! One task spawns N tasks (keeping their join handles); task `i` sleeps
//! until `start + d_i`, where `start` is 300 ms (`--quick`: 100 ms) after
//! the first spawn (so
//! that every timer is registered before the first deadline, and lateness
//! measures the timers, not how long one thread takes to start N tasks) and
//! `d_i` is spread uniformly over 100 ms (xorshift, the same sequence for
//! every peer). On waking a task returns how late it woke
//! (`Instant::now() - deadline`); a sleep that wakes early fails the run.
//!
//! Figures:
//! * the throughput: sleeping tasks set up per second, from the first spawn
//!   until the last task was first polled (its timer registered);
//! * memory per task: resident memory (`/proc/self/statm`) once every timer
//!   is registered, less before the first spawn, over N (the task, its
//!   sleep, its join handle and the runtime's timer entry);
//! * lateness p50 and p99 over the N sleeps.
//!
//! There is no warm-up pass: it would leave freed memory in the allocator
//! for the measured pass to reuse, hiding the memory the sleeps take.
//!
//! Peers: ringloop (`ringloop::time::sleep_until`), tokio current-thread
//! (`tokio::time::sleep_until`, IO and time drivers on), monoio
//! (`IoUringDriver` with `enable_timer`), tokio-uring (tokio's timers: its
//! runtime is a tokio current-thread runtime), compio
//! (`compio::runtime::time::sleep_until`). glommio, once it is a dependency
//! of this package, is one more peer function of the same shape: spawn with
//! `glommio::spawn_local`, sleep with `glommio::timer::sleep` to the
//! deadline, join with `JoinHandle::await`.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{record, Case, Job, Metric, Outcome, Peer, Sample, Scenario, Skip};

/// From the first spawn to the first deadline (with `--quick`, whose N is
/// a fifth, a third of it).
const HEAD_START: Duration = Duration::from_millis(300);
const QUICK_HEAD_START: Duration = Duration::from_millis(100);
/// The deadlines are spread over this much time after the head start.
const SPREAD_MS: u64 = 100;
/// How often the spawner looks whether every timer is registered.
const POLL_EVERY: Duration = Duration::from_millis(1);

pub const SCENARIO: Scenario = Scenario {
    name: "timers",
    about: "N concurrent sleeps: memory per sleeping task, lateness p50/p99 (single thread)",
    unit: "sleeps set up",
    cases: &[Case {
        id: "sleeps",
        title: "{n} concurrent sleeps, deadlines spread over 100 ms after a head start",
        concurrency: 1,
        n: 100_000,
        n_quick: 20_000,
    }],
    peers: &[
        Peer {
            name: "ringloop",
            run: ringloop,
        },
        Peer {
            name: "tokio",
            run: tokio,
        },
        Peer {
            name: "monoio",
            run: monoio,
        },
        Peer {
            name: "tokio-uring",
            run: tokio_uring,
        },
        Peer {
            name: "compio",
            run: compio,
        },
    ],
    // Seconds per run (`run_secs`), measured: one full round on 2 cores.
    run_secs: |_, _| 0.4,
};

/// Timers first polled so far, and when the last of the N was.
static REGISTERED: AtomicU64 = AtomicU64::new(0);
static ALL_REGISTERED: OnceLock<Instant> = OnceLock::new();

/// One run's deadlines and its measurements so far.
struct Plan {
    n: u64,
    spawned: Instant,
    rss_before: u64,
    head_start: Duration,
    start: Instant,
    seed: u64,
}

impl Plan {
    /// Call right before the first spawn.
    fn begin(job: &Job) -> Plan {
        let head_start = if job.quick {
            QUICK_HEAD_START
        } else {
            HEAD_START
        };
        let rss_before = rss_bytes();
        let spawned = Instant::now();
        Plan {
            n: job.n,
            spawned,
            rss_before,
            head_start,
            start: spawned + head_start,
            seed: 0x2545_f491_4f6c_dd1d,
        }
    }

    /// The next task's deadline.
    fn next_deadline(&mut self) -> Instant {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.start + Duration::from_millis(self.seed % SPREAD_MS)
    }

    fn all_registered(&self) -> bool {
        REGISTERED.load(Ordering::Acquire) >= self.n
    }

    /// Call once [`Plan::all_registered`]; reads the memory the sleeping
    /// tasks hold.
    fn sleeping(&self) -> Sleeping {
        Sleeping {
            rss: rss_bytes().saturating_sub(self.rss_before),
            setup: *ALL_REGISTERED.get().expect("every timer registered") - self.spawned,
        }
    }

    /// The run's sample from every task's lateness; records the metrics.
    fn finish(&self, sleeping: Sleeping, mut lateness: Vec<Duration>) -> Sample {
        assert_eq!(lateness.len() as u64, self.n, "not every sleep woke");
        lateness.sort_unstable();
        let pct = |p: f64| lateness[((lateness.len() - 1) as f64 * p) as usize];
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        record(Metric::LatencyP50, us(pct(0.50)));
        record(Metric::LatencyP99, us(pct(0.99)));
        record(Metric::BytesPerTask, sleeping.rss as f64 / self.n as f64);
        let note = format!(
            "set up in {:.1} ms (head start {} ms); RSS +{} KiB while sleeping; \
             lateness max {:.0} µs",
            sleeping.setup.as_secs_f64() * 1e3,
            self.head_start.as_millis(),
            sleeping.rss / 1024,
            us(pct(1.0)),
        );
        Sample {
            ops: self.n,
            elapsed: sleeping.setup,
            note: Some(note),
        }
    }
}

/// What the sleeping tasks cost.
#[derive(Clone, Copy)]
struct Sleeping {
    rss: u64,
    setup: Duration,
}

/// The body of every sleeping task: counts itself registered at its first
/// poll (the same poll that registers `sleep`), sleeps, and returns how
/// late it woke.
async fn sleeper(n: u64, deadline: Instant, sleep: impl Future) -> Duration {
    if REGISTERED.fetch_add(1, Ordering::AcqRel) + 1 == n {
        let _ = ALL_REGISTERED.set(Instant::now());
    }
    sleep.await;
    let now = Instant::now();
    assert!(now >= deadline, "a sleep woke early");
    now - deadline
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

fn ringloop(job: &Job) -> Outcome {
    let rt = ringloop::Runtime::new().map_err(Skip::build)?;
    let n = job.n;
    let (sample, stats) = rt.block_on(async {
        let before = ringloop::stats();
        let mut handles = Vec::with_capacity(n as usize);
        let mut plan = Plan::begin(job);
        for _ in 0..n {
            let d = plan.next_deadline();
            handles.push(ringloop::spawn(sleeper(
                n,
                d,
                ringloop::time::sleep_until(d),
            )));
        }
        while !plan.all_registered() {
            ringloop::time::sleep(POLL_EVERY).await;
        }
        let sleeping = plan.sleeping();
        let mut lateness = Vec::with_capacity(n as usize);
        for h in handles {
            lateness.push(h.await.expect("ringloop sleeper failed"));
        }
        (
            plan.finish(sleeping, lateness),
            ringloop::stats().since(&before),
        )
    });
    let note = sample.note.clone().unwrap_or_default();
    Ok(Sample {
        note: Some(format!(
            "{note}; {} SQEs submitted, {} io_uring_enter calls, {} parks",
            stats.ops_submitted, stats.enters, stats.parks
        )),
        ..sample
    })
}

/// tokio's timers, on whichever tokio runtime is current (tokio's own, or
/// tokio-uring's).
async fn tokio_sleeps(
    job: &Job,
    spawn: impl Fn(Instant) -> tokio::task::JoinHandle<Duration>,
) -> Sample {
    let n = job.n;
    let mut handles = Vec::with_capacity(n as usize);
    let mut plan = Plan::begin(job);
    for _ in 0..n {
        handles.push(spawn(plan.next_deadline()));
    }
    while !plan.all_registered() {
        tokio::time::sleep(POLL_EVERY).await;
    }
    let sleeping = plan.sleeping();
    let mut lateness = Vec::with_capacity(n as usize);
    for h in handles {
        lateness.push(h.await.expect("tokio sleeper failed"));
    }
    plan.finish(sleeping, lateness)
}

fn tokio(job: &Job) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Skip::build)?;
    let n = job.n;
    Ok(rt.block_on(tokio_sleeps(job, |d| {
        tokio::spawn(sleeper(
            n,
            d,
            tokio::time::sleep_until(tokio::time::Instant::from_std(d)),
        ))
    })))
}

fn tokio_uring(job: &Job) -> Outcome {
    let n = job.n;
    Ok(tokio_uring::start(tokio_sleeps(job, |d| {
        tokio_uring::spawn(sleeper(
            n,
            d,
            tokio::time::sleep_until(tokio::time::Instant::from_std(d)),
        ))
    })))
}

fn monoio(job: &Job) -> Outcome {
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .enable_timer()
        .build()
        .map_err(Skip::build)?;
    let n = job.n;
    Ok(rt.block_on(async {
        let mut handles = Vec::with_capacity(n as usize);
        let mut plan = Plan::begin(job);
        for _ in 0..n {
            let d = plan.next_deadline();
            handles.push(monoio::spawn(sleeper(
                n,
                d,
                monoio::time::sleep_until(monoio::time::Instant::from_std(d)),
            )));
        }
        while !plan.all_registered() {
            monoio::time::sleep(POLL_EVERY).await;
        }
        let sleeping = plan.sleeping();
        let mut lateness = Vec::with_capacity(n as usize);
        for h in handles {
            lateness.push(h.await);
        }
        plan.finish(sleeping, lateness)
    }))
}

fn compio(job: &Job) -> Outcome {
    use compio::runtime::time;
    let rt = compio::runtime::Runtime::new().map_err(Skip::build)?;
    let n = job.n;
    Ok(rt.block_on(async {
        let mut handles = Vec::with_capacity(n as usize);
        let mut plan = Plan::begin(job);
        for _ in 0..n {
            let d = plan.next_deadline();
            handles.push(compio::runtime::spawn(sleeper(n, d, time::sleep_until(d))));
        }
        while !plan.all_registered() {
            time::sleep(POLL_EVERY).await;
        }
        let sleeping = plan.sleeping();
        let mut lateness = Vec::with_capacity(n as usize);
        for h in handles {
            lateness.push(h.await.expect("compio sleeper failed"));
        }
        plan.finish(sleeping, lateness)
    }))
}
