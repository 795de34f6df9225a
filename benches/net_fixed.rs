//! Sockets named by fixed-file slot (`register(&FixedFiles)`) against
//! sockets named by fd, same run: 64 loopback TCP pairs on one runtime,
//! each ping-ponging a 64-byte message (a send and a receive each way per
//! round trip), and the same with the server side on one multishot receive.
//!
//! The figure is round trips per second of this thread's **CPU time**
//! (`CLOCK_THREAD_CPUTIME_ID`), not of wall time: on a shared machine it
//! does not count the time other processes held the CPU. Both ends run in
//! this thread, so it includes the kernel's TCP work for both.
//!
//! `cargo bench --bench net_fixed` (`BENCH_QUICK=1` for a short run).

mod common;

use common::{header, interleave, pin, print_ratio, print_table, quick, Case};
use ringloop::buf::BufRing;
use ringloop::buf::IoBuf;
use ringloop::fs::FixedFiles;
use ringloop::net::{TcpListener, TcpStream};

const PAIRS: usize = 64;
const MSG: usize = 64;

fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live timespec the call writes.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Round trips per CPU-second: `PAIRS` pairs, `per_pair` round trips each.
fn ping_pong(fixed: bool, multishot: bool, per_pair: usize) -> f64 {
    let rt = ringloop::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let table = if fixed {
            Some(FixedFiles::new(2 * PAIRS as u32).expect("fixed file table"))
        } else {
            None
        };
        let ring = BufRing::new(256, 4096).expect("buffer ring");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut pairs = Vec::new();
        for _ in 0..PAIRS {
            let client = TcpStream::connect(addr).await.expect("connect");
            let (server, _) = listener.accept().await.expect("accept");
            client.set_nodelay(true).expect("nodelay");
            server.set_nodelay(true).expect("nodelay");
            if let Some(table) = &table {
                client.register(table).expect("register");
                server.register(table).expect("register");
            }
            pairs.push((client, server));
        }
        let start = thread_cpu();
        let tasks: Vec<_> = pairs
            .into_iter()
            .map(|(client, server)| {
                let ring = ring.clone();
                let server = ringloop::spawn(async move {
                    if multishot {
                        let mut chunks = server.recv_multishot(&ring);
                        while let Some(chunk) = chunks.next().await {
                            let chunk = chunk.expect("recv");
                            let (res, _) = server.write_all(chunk.to_vec()).await;
                            res.expect("send");
                        }
                    } else {
                        let mut buf = vec![0u8; 4096];
                        loop {
                            let (res, b) = server.read(buf).await;
                            let n = res.expect("recv");
                            if n == 0 {
                                return;
                            }
                            let (res, b) = server.write_all(b.slice(..n)).await;
                            res.expect("send");
                            buf = b.into_inner();
                        }
                    }
                });
                ringloop::spawn(async move {
                    let mut msg = vec![1u8; MSG];
                    let mut reply = vec![0u8; 4096];
                    for _ in 0..per_pair {
                        let (res, m) = client.write_all(msg).await;
                        res.expect("send");
                        msg = m;
                        let mut got = 0;
                        while got < MSG {
                            let (res, r) = client.read(reply).await;
                            got += res.expect("recv");
                            reply = r;
                        }
                    }
                    drop(client);
                    server.await.expect("server");
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("pair");
        }
        (PAIRS * per_pair) as f64 / (thread_cpu() - start)
    })
}

fn main() {
    pin();
    let per_pair = if quick() { 500 } else { 2000 };
    header("TCP ping-pong, sockets by fd vs by fixed slot (round trips per CPU-second)");
    let mut cases = [
        Case {
            name: "fd, read/write",
            run: Box::new(|| ping_pong(false, false, per_pair)),
        },
        Case {
            name: "fixed, read/write",
            run: Box::new(|| ping_pong(true, false, per_pair)),
        },
        Case {
            name: "fd, multishot server",
            run: Box::new(|| ping_pong(false, true, per_pair)),
        },
        Case {
            name: "fixed, multishot server",
            run: Box::new(|| ping_pong(true, true, per_pair)),
        },
    ];
    let summaries = interleave(&mut cases);
    print_table(
        "64 pairs, 64-byte round trips",
        "round trips/CPU-s",
        &summaries,
    );
    print_ratio(&summaries, "fixed, read/write", "fd, read/write");
    print_ratio(
        &summaries,
        "fixed, multishot server",
        "fd, multishot server",
    );
}
