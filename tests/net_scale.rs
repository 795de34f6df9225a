//! Ten thousand concurrent loopback connections, held open at once and
//! each echoed, on one runtime.
//!
//! The test needs two fds per connection. It raises `RLIMIT_NOFILE` if it
//! can; if the limit cannot be raised it scales the count down to what
//! fits and says so on stderr.

mod common;
mod net_common;

use common::watchdog;
use net_common::raise_fd_limit;
use ringloop::buf::BufRing;
use ringloop::net::{TcpListener, TcpStream};
use std::cell::Cell;
use std::rc::Rc;

const WANTED: usize = 10_000;

#[test]
fn ten_thousand_connections_are_held_and_echoed() {
    let limit = raise_fd_limit((2 * WANTED + 512) as u64) as usize;
    let count = WANTED.min(limit.saturating_sub(512) / 2);
    if count < WANTED {
        eprintln!(
            "RLIMIT_NOFILE is {limit} and cannot be raised: scaled down to {count} connections"
        );
    }
    watchdog(120, move || {
        ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .unwrap()
            .block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                listener.set_backlog(65535).unwrap();
                let addr = listener.local_addr().unwrap();

                // Server: one multishot accept; every connection echoes through
                // one multishot receive, all sharing a ring of 256 buffers.
                let ring = BufRing::new(256, 256).unwrap();
                let served = Rc::new(Cell::new(0usize));
                let served_in = Rc::clone(&served);
                let server = ringloop::spawn(async move {
                    let mut incoming = listener.incoming();
                    for _ in 0..count {
                        let stream = incoming.next().await.unwrap();
                        let ring = ring.clone();
                        let served = Rc::clone(&served_in);
                        ringloop::spawn(async move {
                            let mut chunks = stream.recv_multishot(&ring);
                            while let Some(chunk) = chunks.next().await {
                                let (res, _) = stream.write_all(chunk.unwrap()).await;
                                res.unwrap();
                            }
                            served.set(served.get() + 1);
                        });
                    }
                });

                // Clients: connect all, in waves of 1000 connects in flight.
                let mut clients = Vec::with_capacity(count);
                for wave in (0..count).collect::<Vec<_>>().chunks(1000) {
                    let connects: Vec<_> = wave
                        .iter()
                        .map(|_| {
                            ringloop::spawn(async move { TcpStream::connect(addr).await.unwrap() })
                        })
                        .collect();
                    for c in connects {
                        clients.push(c.await.unwrap());
                    }
                }
                server.await.unwrap();
                assert_eq!(clients.len(), count, "all connections are open at once");

                // Every connection echoes its own message.
                let echoes: Vec<_> = clients
                    .into_iter()
                    .enumerate()
                    .map(|(i, client)| {
                        ringloop::spawn(async move {
                            let msg = format!("hello from connection {i}").into_bytes();
                            let (res, msg) = client.write_all(msg).await;
                            res.unwrap();
                            let mut got = Vec::new();
                            while got.len() < msg.len() {
                                let (res, buf) = client.read(vec![0; 64]).await;
                                let n = res.unwrap();
                                assert!(n > 0, "connection {i} closed early");
                                got.extend_from_slice(&buf[..n]);
                            }
                            assert_eq!(got, msg, "connection {i} got its own bytes back");
                        })
                    })
                    .collect();
                for e in echoes {
                    e.await.unwrap();
                }
                // Closing the clients ends every server task (EOF).
                common::eventually("every server task saw EOF", || served.get() == count).await;
            });
    });
}
