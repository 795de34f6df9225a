//! What the network scenarios (`http`, `echo`, `hyper`) share: how a peer's server
//! is started, how it is loaded, what is read around the load and what of
//! it is recorded as figures (`note.rs`).
//!
//! # A run
//!
//! The child (pinned to the suite's CPU, CPU 0) starts the server as a
//! process of its own, which inherits the pin, on a fresh loopback port:
//! a ringloop example (`examples/http.rs`, `examples/echo.rs`) or
//! `src/bin/net-peer` (`net-peer PROTOCOL RUNTIME ADDR`, every other
//! runtime). The load generator runs on another CPU (`taskset -c 1`) and
//! first warms the server up, untimed (ringloop's `examples/echo_client.rs`,
//! closed loop, 64 connections — or the case's count — for a fifth of the
//! run, 0.25–1 s). Then, by [`Load`]:
//!
//! * [`Load::Wrk`]: `wrk -t1 -cC -dNs --latency` (whole seconds, at least
//!   1), pipelined with a Lua script when `depth` > 1. The figure is wrk's:
//!   requests completed / its run time.
//! * [`Load::Closed`]: `echo_client`, closed loop (one message in flight
//!   per connection). The figure is the client's: messages / s.
//! * [`Load::Open`]: `echo_client --rate R`, open loop (messages go out on
//!   schedule whatever the server does, latency counted from when each was
//!   due), R a share of **tokio's closed-loop peak measured in the same
//!   invocation of the suite** (the first open-loop run of a scenario
//!   measures it once: tokio's server under [`Load::Closed`], same client,
//!   same duration). The figure is **requests per second of server CPU
//!   time**: higher is better, `1e6 / figure` is the server's CPU-µs per
//!   request; the rate asked for and reached are in the note.
//! * [`Load::Strace`]: a **separate pass, not the timed one**: the warmed
//!   server is attached with `strace -f -c` (every thread), loaded by
//!   `echo_client` in a closed loop (connects and closes included, under
//!   strace), detached. strace slows the server several times over, so
//!   nothing but the counts is kept. The figure is **requests per
//!   syscall** (higher is fewer syscalls); syscalls and `io_uring_enter`s
//!   per request are recorded, `epoll_wait` and read/write-family calls
//!   per request are in the note.
//!
//! Around the measured part of a timed run the child reads:
//!
//! * the server process's CPU-time clock (`clock_getcpuclockid`: every
//!   thread of the process, io_uring workers included, in nanoseconds):
//!   **CPU-µs per request**; its user share from `utime` in
//!   `/proc/PID/stat`, which the kernel keeps in 10 ms ticks (so the user
//!   column is coarse: one tick is about 0.06 µs per request in the open
//!   loop at 50%);
//! * the idle time of the server's and the client's CPUs from `/proc/stat`:
//!   how busy the **server's core** was (a closed-loop figure is labelled
//!   **client-bound** when it was less than 95% busy: the load generator,
//!   not the server, set the pace), and how much of either CPU went to
//!   *other* processes (busy time not spent by the server, resp. by the
//!   client). The machine is shared: a run during which others took more
//!   than 10% of either CPU is run again (up to 3 attempts, the least
//!   disturbed kept; not in `--quick`), and the note says whether the run
//!   was retried or stayed disturbed;
//! * the server's main thread's `voluntary_ctxt_switches`: **sleeps per
//!   request**;
//! * for ringloop's HTTP example, `--signal-stats` makes it print its
//!   counters (`ringloop::stats()`) on SIGUSR1: a snapshot before and after
//!   gives **I/O syscalls per request** and CQEs per enter.
//!
//! Recorded figures ([`crate::metric`], medians over the rounds in the
//! report): server CPU-µs per request, the server core's busy share
//! (closed loops), latency p50/p99 (open loops), syscalls and
//! `io_uring_enter`s per request (strace, or ringloop's counters). The
//! rest (the CPUs' disturbance, sleeps, CQEs per enter) is the row's note.
//!
//! A case's size ([`Job::n`]) is the measured duration in milliseconds.
//! With `--quick` a run is one attempt after a 0.1 s warm-up; cases whose
//! `n_quick` is 0 are left out by the suite before any child starts.
//!
//! Missing `wrk`, `strace` or `taskset` are reported as skipped with how to
//! install them (`bash ci/install-bench-tools.sh`), never faked.

mod load;
mod note;
mod process;
mod tools;

use std::process::Command;
use std::time::Duration;

use super::{local, Job, Outcome, Sample, Skip};
use process::ServerProcess;
use tools::Tools;

/// A run during which other processes took more than this share (%) of the
/// server's or the client's CPU is run again, up to [`ATTEMPTS`] times in
/// all; the least disturbed attempt is kept. `--quick` runs are not
/// retried: there the time budget comes first, and the note still shows
/// the disturbance.
const MAX_FOREIGN: f64 = 10.0;
const ATTEMPTS: usize = 3;

/// The peers of a protocol scenario (`http`, `echo`): ringloop's example
/// in its three variants, then every runtime of `net-peer`. `$run(job,
/// server)` runs one; `$ringloop(mode, driver)` and `$peer(runtime)` are
/// the scenario's functions naming the servers; further `Peer`s given after
/// them (a scenario's own ringloop variants) come right after `ringloop`.
macro_rules! protocol_peers {
    ($run:ident, $ringloop:ident, $peer:ident $(, $extra:expr)* $(,)?) => {
        &[
            Peer {
                name: "ringloop",
                run: |job| $run(job, $ringloop("multishot", "uring")),
            },
            $($extra,)*
            Peer {
                name: "ringloop-plain",
                run: |job| $run(job, $ringloop("plain", "uring")),
            },
            Peer {
                name: "ringloop-epoll",
                run: |job| $run(job, $ringloop("plain", "epoll")),
            },
            Peer {
                name: "tokio",
                run: |job| $run(job, $peer("tokio")),
            },
            Peer {
                name: "monoio",
                run: |job| $run(job, $peer("monoio")),
            },
            Peer {
                name: "monoio-epoll",
                run: |job| $run(job, $peer("monoio-epoll")),
            },
            Peer {
                name: "tokio-uring",
                run: |job| $run(job, $peer("tokio-uring")),
            },
            Peer {
                name: "compio",
                run: |job| $run(job, $peer("compio")),
            },
            Peer {
                name: "glommio",
                run: |job| $run(job, $peer("glommio")),
            },
            Peer {
                name: "io-uring-raw",
                run: |job| $run(job, $peer("io-uring-raw")),
            },
            Peer {
                name: "epoll-raw",
                run: |job| $run(job, $peer("epoll-raw")),
            },
        ]
    };
}
pub(crate) use protocol_peers;

/// How a peer's server is started.
#[derive(Clone, Copy, Debug)]
pub enum Server {
    /// `RINGLOOP_DRIVER=driver examples/EXAMPLE ADDR [--mode MODE] ARGS…`,
    /// the example built with the ringloop crate's `features`.
    Ringloop {
        example: &'static str,
        features: &'static [&'static str],
        mode: Option<&'static str>,
        driver: &'static str,
        args: &'static [&'static str],
        /// The example takes `--signal-stats` (prints its counters on
        /// SIGUSR1): the note gets ringloop's syscalls per request.
        counters: bool,
    },
    /// `net-peer PROTOCOL RUNTIME ADDR`.
    Peer {
        protocol: &'static str,
        runtime: &'static str,
    },
    /// `NAME ADDR`, another binary of this package (`src/bin/NAME.rs`).
    Bin { name: &'static str },
}

/// What a message is, for `echo_client`.
#[derive(Clone, Copy, Debug)]
pub enum Message {
    /// An HTTP/1.1 `GET /`, one response back (`--http`).
    Http,
    /// `n` bytes echoed back (`--size n`).
    Echo(usize),
}

/// How the server is loaded.
#[derive(Clone, Copy, Debug)]
pub enum Load {
    /// `wrk -t1`, `depth` requests per write (HTTP only).
    Wrk { depth: usize },
    /// `echo_client`, closed loop, one message in flight per connection.
    Closed,
    /// `echo_client` at `percent`% of tokio's closed-loop peak.
    Open { percent: u32 },
    /// The separate `strace -f -c` pass.
    Strace,
}

/// One network case of one peer.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// The scenario's name (tokio's peak is kept per scenario).
    pub scenario: &'static str,
    pub server: Server,
    pub message: Message,
    pub load: Load,
    /// The server tokio's closed-loop peak is measured on (open loop).
    pub tokio: Server,
}

/// What one run measured, beside the figure.
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    /// Requests per second (closed loop: wrk's or echo_client's; open
    /// loop: the rate the client reached).
    rate: f64,
    /// Open loop: the rate asked for (NaN otherwise).
    target: f64,
    /// Server CPU time per request, µs, and its user-space part.
    cpu_us: f64,
    user_us: f64,
    /// The server's CPU (core) not idle over the measured part, % of wall
    /// time: whoever used it (the server, softirqs, anything else).
    busy: f64,
    /// The server process's CPU time / wall time, %.
    share: f64,
    /// CPU time of other processes on the server's or the client's CPU,
    /// % of wall time (the larger of the two). A run above [`MAX_FOREIGN`]
    /// is tried again.
    foreign: f64,
    /// Times the server's main thread went to sleep per request.
    sleeps: f64,
    /// Latency percentiles, µs.
    p50: f64,
    p99: f64,
    /// Per request: I/O syscalls (ringloop's counters, or every syscall
    /// under strace), `io_uring_enter` calls, and under strace
    /// `epoll_wait`s and read/write-family calls.
    syscalls: f64,
    enters: f64,
    epoll_waits: f64,
    rw: f64,
    /// CQEs reaped per enter (ringloop's counters).
    cqes: f64,
    /// Attempts the run took (see [`MAX_FOREIGN`]).
    attempts: f64,
}

impl Figures {
    fn empty() -> Figures {
        Figures {
            target: f64::NAN,
            syscalls: f64::NAN,
            enters: f64::NAN,
            epoll_waits: f64::NAN,
            rw: f64::NAN,
            cqes: f64::NAN,
            p50: f64::NAN,
            p99: f64::NAN,
            ..Figures::default()
        }
    }
}

/// One run of `spec`: the least disturbed of up to [`ATTEMPTS`] attempts
/// (one with `--quick`); records its figures, notes the rest.
pub fn run(job: &Job, spec: Spec) -> Outcome {
    let tools = Tools::find(spec.load)?;
    let mut best: Option<(Sample, Figures)> = None;
    let max_attempts = if job.quick { 1 } else { ATTEMPTS };
    let mut attempts = 0;
    while attempts < max_attempts {
        attempts += 1;
        let (sample, figures) = attempt(job, &tools, &spec)?;
        let quiet = figures.foreign.is_nan() || figures.foreign <= MAX_FOREIGN;
        if best
            .as_ref()
            .is_none_or(|(_, b)| figures.foreign < b.foreign)
        {
            best = Some((sample, figures));
        }
        if quiet || matches!(spec.load, Load::Strace) {
            break;
        }
    }
    let (sample, mut figures) = best.expect("at least one attempt");
    figures.attempts = attempts as f64;
    note::record_figures(&figures, spec.load);
    Ok(Sample {
        note: Some(note::note(&figures, spec.load)),
        ..sample
    })
}

/// One server process, one measured load.
fn attempt(job: &Job, tools: &Tools, spec: &Spec) -> Result<(Sample, Figures), Skip> {
    let measured = Duration::from_millis(job.n);
    let rate = match spec.load {
        Load::Open { percent } => {
            let peak = peak(job, tools, spec)?;
            Some(peak * f64::from(percent) / 100.0)
        }
        _ => None,
    };
    let mut srv = start(spec.server)?;
    let client = load::Client {
        tools,
        addr: srv.addr.clone(),
        connections: job.concurrency,
        message: spec.message,
    };
    client.warm_up(warmup(job.n, job.quick))?;
    let result = match spec.load {
        Load::Wrk { depth } => client.wrk(&mut srv, depth, measured),
        Load::Closed | Load::Open { .. } => client.echo_loop(&mut srv, rate, measured),
        Load::Strace => client.strace(&srv, measured),
    };
    srv.stop();
    result
}

/// The untimed warm-up before a measured load of `n` ms: a fifth of it,
/// 0.25–1 s (0.1 s with `--quick`).
fn warmup(n: u64, quick: bool) -> Duration {
    if quick {
        return Duration::from_millis(100);
    }
    (Duration::from_millis(n) / 5).clamp(Duration::from_millis(250), Duration::from_secs(1))
}

/// What a run costs beside its warm-up and measured load: the child and
/// the server start, the connections open, the server stops (measured on
/// 2 cores, `all --quick`).
const OVERHEAD: Duration = Duration::from_millis(500);

/// [`super::Scenario::run_secs`] of a network scenario (`n` in ms).
pub fn run_secs(n: u64, quick: bool) -> f64 {
    (Duration::from_millis(n) + warmup(n, quick) + OVERHEAD).as_secs_f64()
}

fn start(server: Server) -> Result<ServerProcess, Skip> {
    let addr = tools::free_addr()?;
    let (mut cmd, counters) = match server {
        Server::Ringloop {
            example,
            features,
            mode,
            driver,
            args,
            counters,
        } => {
            let mut c = Command::new(local::example(example, features)?);
            c.arg(&addr);
            if let Some(mode) = mode {
                c.args(["--mode", mode]);
            }
            c.args(args).env("RINGLOOP_DRIVER", driver);
            if counters {
                c.arg("--signal-stats");
            }
            (c, counters)
        }
        Server::Peer { protocol, runtime } => {
            let mut c = Command::new(local::sibling("net-peer")?);
            c.args([protocol, runtime, &addr]);
            (c, false)
        }
        Server::Bin { name } => {
            let mut c = Command::new(local::sibling(name)?);
            c.arg(&addr);
            (c, false)
        }
    };
    ServerProcess::start(&mut cmd, addr, counters)
}

/// tokio's closed-loop peak (requests / s) for this scenario and case's
/// connections and message, measured by the first open-loop run of the
/// invocation and kept in the scratch folder for the others.
fn peak(job: &Job, tools: &Tools, spec: &Spec) -> Result<f64, Skip> {
    if let Some(rate) = note::peak(spec.scenario) {
        return Ok(rate);
    }
    let measured = Duration::from_millis(job.n);
    let mut srv = start(spec.tokio)?;
    let client = load::Client {
        tools,
        addr: srv.addr.clone(),
        connections: job.concurrency,
        message: spec.message,
    };
    client.warm_up(warmup(job.n, job.quick))?;
    let (_, figures) = client.echo_loop(&mut srv, None, measured)?;
    srv.stop();
    note::set_peak(spec.scenario, figures.rate);
    Ok(figures.rate)
}
