//! The `http` scenario: a minimal HTTP/1.1 keep-alive "Hello world!"
//! responder per runtime, loaded by `wrk` (closed loop), by ringloop's own
//! `examples/echo_client.rs --http` at 25, 50 and 75% of tokio's peak (open
//! loop), and once more under `strace` (syscalls per request). How a run
//! goes and what its note holds: [`super::net`].
//!
//! Servers (pinned to CPU 0; the load on CPU 1):
//!
//! * `ringloop`: `examples/http.rs` in its default mode, one multishot
//!   receive per connection over a shared buffer ring;
//! * `ringloop-fixed`: the default mode with each connection registered in
//!   the ring's fixed-file table (`--fixed 4096`), so that its ops name a
//!   slot instead of an fd (opt-in in the library: see docs/architecture.md);
//! * `ringloop-plain`: the same example with `--mode plain` (`read` →
//!   `write_all`, a buffer per connection);
//! * `ringloop-epoll`: `--mode plain` on ringloop's readiness driver
//!   (`RINGLOOP_DRIVER=epoll`): the same runtime, epoll instead of io_uring;
//! * `tokio`, `monoio`, `monoio-epoll`, `tokio-uring`, `compio`, `glommio`:
//!   `src/bin/net-peer` (`net-peer http RUNTIME ADDR`), the same responder
//!   written idiomatically on each runtime (current thread; monoio with its
//!   io_uring driver and with its epoll "legacy" driver).
//!
//! The ringloop example runs with `--signal-stats`, so its notes also give
//! ringloop's own count of I/O syscalls and `io_uring_enter`s per request.

use super::net::{self, Load, Message, Server, Spec};
use super::{Case, Job, Outcome, Peer, Scenario};

/// The open-loop case at `$percent`% of tokio's closed-loop peak.
macro_rules! open_case {
    ($percent:literal, $n_quick:expr) => {
        Case {
            id: concat!("open", $percent),
            title: concat!(
                "open loop at ",
                $percent,
                "% of tokio's closed-loop peak, 64 connections (echo_client --http), {n} ms \
                 per run; figure = requests per server CPU-second"
            ),
            concurrency: 64,
            n: 2000,
            n_quick: $n_quick,
        }
    };
}

pub const SCENARIO: Scenario = Scenario {
    name: "http",
    about: "HTTP/1.1 keep-alive hello world vs wrk -t1 (64 conns, pipelining 1 and 16; 1,000 \
            conns), an open loop at 25/50/75% of tokio's peak, syscalls per request (strace)",
    unit: "requests",
    cases: &[
        Case {
            id: "p1",
            title: "wrk -t1, 64 connections, 1 request per write, {n} ms per run",
            concurrency: 64,
            n: 2000,
            n_quick: 1000,
        },
        Case {
            id: "p16",
            title: "wrk -t1, 64 connections, 16 pipelined requests per write, {n} ms per run",
            concurrency: 64,
            n: 2000,
            n_quick: 0,
        },
        Case {
            id: "c1000",
            title: "wrk -t1, 1,000 connections, 1 request per write, {n} ms per run",
            concurrency: 1000,
            n: 2000,
            n_quick: 0,
        },
        open_case!(25, 0),
        open_case!(50, 1000),
        open_case!(75, 0),
        Case {
            id: "syscalls",
            title: "syscalls: a separate pass under strace -f -c, echo_client --http closed \
                    loop, 64 connections, {n} ms; figure (M) = requests per syscall",
            concurrency: 64,
            n: 1000,
            n_quick: 0,
        },
    ],
    peers: net::protocol_peers!(
        run,
        ringloop,
        peer,
        Peer {
            name: "ringloop-fixed",
            run: |job| run(job, RINGLOOP_FIXED),
        },
    ),
    run_secs: net::run_secs,
};

/// `examples/http.rs --mode MODE` on ringloop's `DRIVER`.
const fn ringloop(mode: &'static str, driver: &'static str) -> Server {
    Server::Ringloop {
        example: "http",
        features: &[],
        mode: Some(mode),
        driver,
        args: &[],
        counters: true,
    }
}

/// The default mode with every connection in the ring's fixed-file table
/// (`--fixed 4096`): its receives and sends name a slot, not an fd.
const RINGLOOP_FIXED: Server = Server::Ringloop {
    example: "http",
    features: &[],
    mode: Some("multishot"),
    driver: "uring",
    args: &["--fixed", "4096"],
    counters: true,
};

/// `net-peer http RUNTIME`.
const fn peer(runtime: &'static str) -> Server {
    Server::Peer {
        protocol: "http",
        runtime,
    }
}

fn run(job: &Job, server: Server) -> Outcome {
    let load = match job.case {
        "p1" | "c1000" => Load::Wrk { depth: 1 },
        "p16" => Load::Wrk { depth: 16 },
        "open25" => Load::Open { percent: 25 },
        "open50" => Load::Open { percent: 50 },
        "open75" => Load::Open { percent: 75 },
        "syscalls" => Load::Strace,
        other => unreachable!("http has no case {other}"),
    };
    net::run(
        job,
        Spec {
            scenario: SCENARIO.name,
            server,
            message: Message::Http,
            load,
            tokio: peer("tokio"),
        },
    )
}
