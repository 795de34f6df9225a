//! The scenarios and their peers.
//!
//! A scenario is one file in this folder. It names its cases (variants that
//! are measured and reported separately, e.g. `nop` with 64 tasks and with 1)
//! and its peers, one function per peer. A peer function runs inside a child
//! process that is already pinned to one CPU: it builds its runtime, does one
//! unmeasured warm-up pass, then one measured pass, and returns a [`Sample`]
//! or a [`Skip`] saying why this peer cannot take part.
//!
//! Beside its [`Sample`] a peer may [`record`] figures such as latency
//! percentiles or syscalls per op; [`measure`] and [`measure_blocking`]
//! record the CPU time per op of the timed pass by themselves.
//!
//! To add a scenario: write `src/scenarios/NAME.rs` with a `pub const
//! SCENARIO: Scenario`, and list it in [`ALL`]; the report's explanation of
//! its results goes in `src/explain.rs`.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

pub mod echo;
pub mod fileread;
pub mod http;
pub mod hyper;
mod local;
mod net;
pub mod nop;
pub mod spawn;
pub mod timers;

pub use crate::metric::{record, Metric};

/// Every scenario, in the order `all` runs them.
pub const ALL: &[&Scenario] = &[
    &spawn::SCENARIO,
    &nop::SCENARIO,
    &timers::SCENARIO,
    &fileread::SCENARIO,
    &fileread::SWEEP,
    &fileread::CP,
    &http::SCENARIO,
    &echo::SCENARIO,
    &hyper::SCENARIO,
];

pub struct Scenario {
    /// The name used on the command line.
    pub name: &'static str,
    /// One line: what is measured.
    pub about: &'static str,
    /// What one "op" is, for the throughput unit (`tasks` gives tasks/s).
    pub unit: &'static str,
    pub cases: &'static [Case],
    pub peers: &'static [Peer],
    /// About how long one run of one peer takes, s, for a case of size `n`
    /// (`true`: with `--quick`), child start-up included: the suite prints
    /// its estimate of the whole run from it.
    pub run_secs: fn(n: u64, quick: bool) -> f64,
}

pub struct Case {
    /// Short identifier, used between parent and child.
    pub id: &'static str,
    /// Heading in the report; `{n}` is replaced by the op count.
    pub title: &'static str,
    /// How many tasks (connections, in-flight ops ...) the case keeps busy at once.
    pub concurrency: usize,
    /// Ops in one measured pass, normal and with `--quick`. For cases
    /// whose `n` is a duration (seconds of load), `n_quick` is what keeps
    /// `all --quick` within its time budget (see the README).
    pub n: u64,
    pub n_quick: u64,
}

pub struct Peer {
    pub name: &'static str,
    pub run: fn(&Job) -> Outcome,
}

/// What a peer function is asked to do.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    /// The [`Case::id`] being run (for scenarios whose cases differ in more
    /// than the concurrency).
    pub case: &'static str,
    /// Ops in the measured pass.
    pub n: u64,
    /// From [`Case::concurrency`].
    pub concurrency: usize,
    /// Whether the suite runs with `--quick`: a scenario may shorten what
    /// is not `n` (warm-ups, settling pauses) to keep the quick run short.
    pub quick: bool,
}

/// One measured pass.
#[derive(Debug)]
pub struct Sample {
    pub ops: u64,
    pub elapsed: Duration,
    /// Free text shown with the results (e.g. the runtime's own counters).
    pub note: Option<String>,
}

impl Sample {
    pub fn with_note(mut self, note: impl fmt::Debug) -> Self {
        self.note = Some(format!("{note:?}"));
        self
    }
}

/// Why a peer does not take part (the op does not exist, the runtime could
/// not be built on this kernel ...).
#[derive(Debug)]
pub struct Skip(pub String);

impl Skip {
    pub fn new(reason: impl Into<String>) -> Self {
        Skip(reason.into())
    }

    /// For `.map_err(Skip::build)` on a runtime constructor.
    pub fn build(e: std::io::Error) -> Self {
        Skip(format!("runtime could not be built: {e}"))
    }
}

pub type Outcome = Result<Sample, Skip>;

pub fn find(name: &str) -> Option<&'static Scenario> {
    ALL.iter().copied().find(|s| s.name == name)
}

/// The size of the unmeasured warm-up pass that precedes the measured one.
pub fn warmup_size(n: u64) -> u64 {
    (n / 10).max(1)
}

/// Runs `pass(warm-up size)`, then times `pass(n)`. Each pass returns a
/// checksum that must equal `expected(size)`, so that no peer can get away
/// with doing less work.
pub async fn measure<F, Fut>(n: u64, expected: fn(u64) -> u64, mut pass: F) -> Sample
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = u64>,
{
    let w = warmup_size(n);
    check(pass(w).await, expected(w));
    let timer = Timer::start();
    let got = pass(n).await;
    let elapsed = timer.stop(n);
    check(got, expected(n));
    Sample {
        ops: n,
        elapsed,
        note: None,
    }
}

/// [`measure`] for peers that are plain loops, not futures.
pub fn measure_blocking(
    n: u64,
    expected: fn(u64) -> u64,
    mut pass: impl FnMut(u64) -> u64,
) -> Sample {
    let w = warmup_size(n);
    check(pass(w), expected(w));
    let timer = Timer::start();
    let got = pass(n);
    let elapsed = timer.stop(n);
    check(got, expected(n));
    Sample {
        ops: n,
        elapsed,
        note: None,
    }
}

/// Wall and CPU time of a timed pass.
pub struct Timer {
    wall: Instant,
    cpu: crate::metric::CpuTime,
}

impl Timer {
    pub fn start() -> Timer {
        Timer {
            cpu: crate::metric::process_cpu(),
            wall: Instant::now(),
        }
    }

    /// The wall time since [`Timer::start`]; records the process's CPU time
    /// per op over it, and its user part ([`Metric::CpuPerOp`],
    /// [`Metric::UserCpuPerOp`]).
    pub fn stop(self, ops: u64) -> Duration {
        let wall = self.wall.elapsed();
        let cpu = crate::metric::process_cpu().since(self.cpu);
        record_cpu(cpu, ops as f64);
        wall
    }
}

/// Records CPU time per op and its user part.
pub fn record_cpu(cpu: crate::metric::CpuTime, ops: f64) {
    let per_op = |d: Duration| d.as_secs_f64() * 1e6 / ops.max(1.0);
    record(Metric::CpuPerOp, per_op(cpu.total()));
    record(Metric::UserCpuPerOp, per_op(cpu.user));
}

/// Records ringloop's syscalls per op from its counters over a run
/// ([`ringloop::Stats::io_syscalls`]: `io_uring_enter` calls, or on the
/// epoll driver `epoll_wait`, `epoll_ctl` and the ops' own syscalls) per op
/// submitted.
pub fn record_ringloop_syscalls(stats: &ringloop::Stats) {
    if stats.ops_submitted > 0 {
        record(
            Metric::SyscallsPerOp,
            stats.io_syscalls() as f64 / stats.ops_submitted as f64,
        );
    }
}

fn check(got: u64, want: u64) {
    assert_eq!(
        got, want,
        "wrong checksum: the peer did not do the work it was asked to"
    );
}

/// How many of `n` ops task `i` of `tasks` does (the first `n % tasks` tasks
/// take one more).
pub fn share(n: u64, tasks: usize, i: usize) -> u64 {
    let tasks = tasks as u64;
    n / tasks + u64::from((i as u64) < n % tasks)
}
