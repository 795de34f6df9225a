//! The `echo` scenario: TCP echo servers loaded by ringloop's own load
//! generator, `examples/echo_client.rs` (a batched completion client: one
//! multishot receive per connection, every connection on one ring, so that
//! on 2 cores the client is not the bottleneck before the server is).
//! 64 connections; 64-byte and 16 KiB messages in a closed loop (one in
//! flight per connection), 64-byte messages at 50% of tokio's closed-loop
//! peak (open loop; `http` has the 25/50/75% series, this one is kept to
//! the rate of issue 3's goal to fit the full run's time budget), and once
//! more under `strace` (syscalls per message). How a run goes and what it
//! records: [`super::net`].
//!
//! Servers (pinned to CPU 0; the client on CPU 1), each reading into a
//! 16 KiB buffer and writing back what a read brought:
//!
//! * `ringloop`: `examples/echo.rs --mode multishot`, one multishot
//!   receive per connection over a shared ring of 16 KiB buffers, each
//!   written back as it is (one op per echo);
//! * `ringloop-plain`: `--mode plain`, `read` → `write_all` with a buffer
//!   per connection;
//! * `ringloop-epoll`: `--mode plain` on ringloop's readiness driver
//!   (`RINGLOOP_DRIVER=epoll`);
//! * `tokio`, `monoio`, `monoio-epoll`, `tokio-uring`, `compio`, `glommio`:
//!   `src/bin/net-peer` (`net-peer echo RUNTIME ADDR`).

use super::net::{self, Load, Message, Server, Spec};
use super::{Case, Job, Outcome, Peer, Scenario};

/// The small message, used by every case but `s16k`.
const SMALL: usize = 64;

pub const SCENARIO: Scenario = Scenario {
    name: "echo",
    about: "TCP echo, 64 connections, examples/echo_client.rs: 64 B and 16 KiB messages in a \
            closed loop, 64 B at 50% of tokio's peak, syscalls per message (strace)",
    unit: "messages",
    cases: &[
        Case {
            id: "s64",
            title: "closed loop, 64 connections, 64-byte messages, {n} ms per run",
            concurrency: 64,
            n: 2000,
            n_quick: 500,
        },
        Case {
            id: "s16k",
            title: "closed loop, 64 connections, 16 KiB messages, {n} ms per run",
            concurrency: 64,
            n: 2000,
            n_quick: 0,
        },
        Case {
            id: "open50",
            title: "open loop at 50% of tokio's closed-loop peak, 64 connections, 64-byte \
                    messages, {n} ms per run; figure = messages per server CPU-second",
            concurrency: 64,
            n: 2000,
            n_quick: 0,
        },
        Case {
            id: "syscalls",
            title: "syscalls: a separate pass under strace -f -c, closed loop, 64 connections, \
                    64-byte messages, {n} ms; figure (M) = messages per syscall",
            concurrency: 64,
            n: 1000,
            n_quick: 0,
        },
    ],
    peers: net::protocol_peers!(run, ringloop, peer),
    run_secs: net::run_secs,
};

/// `examples/echo.rs --mode MODE --buf 16384` on ringloop's `DRIVER`.
const fn ringloop(mode: &'static str, driver: &'static str) -> Server {
    Server::Ringloop {
        example: "echo",
        features: &[],
        mode: Some(mode),
        driver,
        args: &["--buf", "16384"],
        counters: false,
    }
}

/// `net-peer echo RUNTIME`.
const fn peer(runtime: &'static str) -> Server {
    Server::Peer {
        protocol: "echo",
        runtime,
    }
}

fn run(job: &Job, server: Server) -> Outcome {
    let (load, size) = match job.case {
        "s64" => (Load::Closed, SMALL),
        "s16k" => (Load::Closed, 16 * 1024),
        "open50" => (Load::Open { percent: 50 }, SMALL),
        "syscalls" => (Load::Strace, SMALL),
        other => unreachable!("echo has no case {other}"),
    };
    net::run(
        job,
        Spec {
            scenario: SCENARIO.name,
            server,
            message: Message::Echo(size),
            load,
            tokio: peer("tokio"),
        },
    )
}
