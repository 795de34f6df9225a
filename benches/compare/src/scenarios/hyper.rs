//! The `hyper` scenario: the same hyper 1.x HTTP/1.1 "Hello world!" server
//! on ringloop and on tokio, loaded by `wrk -t1 -c64` (closed loop). How a
//! run goes and what it records: [`super::net`].
//!
//! * `ringloop`: `examples/hyper.rs` (built with `--features hyper`): a
//!   ringloop task per connection running hyper's `server::conn::http1`
//!   over `ringloop::io::Compat<TcpStream>` (`hyper::rt` traits, owned
//!   buffers, one copy per byte each way);
//! * `ringloop-epoll`: the same binary on ringloop's readiness driver
//!   (`RINGLOOP_DRIVER=epoll`);
//! * `tokio`: `src/bin/hyper-tokio.rs`, the same server on tokio's
//!   current-thread runtime through hyper-util's `TokioIo`.

use super::net::{self, Load, Message, Server, Spec};
use super::{Case, Job, Outcome, Peer, Scenario};

pub const SCENARIO: Scenario = Scenario {
    name: "hyper",
    about: "hyper 1.x HTTP/1.1 hello world: examples/hyper.rs on ringloop (io::Compat) vs the \
            same server on tokio current-thread, wrk -t1 -c64",
    unit: "requests",
    cases: &[Case {
        id: "c64",
        title: "wrk -t1, 64 connections, hyper http1 \"Hello world!\", {n} ms per run",
        concurrency: 64,
        n: 2000,
        n_quick: 1000,
    }],
    peers: &[
        Peer {
            name: "ringloop",
            run: |job| run(job, ringloop("uring")),
        },
        Peer {
            name: "ringloop-epoll",
            run: |job| run(job, ringloop("epoll")),
        },
        Peer {
            name: "tokio",
            run: |job| run(job, TOKIO),
        },
    ],
    run_secs: net::run_secs,
};

/// `examples/hyper.rs` on ringloop's `DRIVER`.
const fn ringloop(driver: &'static str) -> Server {
    Server::Ringloop {
        example: "hyper",
        features: &["hyper"],
        mode: None,
        driver,
        args: &[],
        counters: false,
    }
}

const TOKIO: Server = Server::Bin {
    name: "hyper-tokio",
};

fn run(job: &Job, server: Server) -> Outcome {
    net::run(
        job,
        Spec {
            scenario: SCENARIO.name,
            server,
            message: Message::Http,
            load: Load::Wrk { depth: 1 },
            tokio: TOKIO,
        },
    )
}
