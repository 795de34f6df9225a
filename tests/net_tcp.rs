//! TCP: round trips over IPv4 and IPv6, every read and write flavour,
//! half-close, split halves, addresses and options, connect timeouts and
//! DNS names.

mod common;
mod net_common;

use common::watchdog;
use net_common::{ipv6_loopback, loopback, tcp_pair};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::Runtime;
use std::io::Write;
use std::net::Shutdown;

#[test]
fn a_message_round_trips_over_ipv4_and_ipv6() {
    watchdog(10, || {
        let rt = Runtime::new().unwrap();
        let families: &[bool] = if ipv6_loopback() {
            &[false, true]
        } else {
            &[false]
        };
        for &v6 in families {
            rt.block_on(async {
                let listener = TcpListener::bind(loopback(v6)).await.unwrap();
                let addr = listener.local_addr().unwrap();
                assert_eq!(addr.is_ipv6(), v6);
                let client = TcpStream::connect(addr).await.unwrap();
                let (server, _) = listener.accept().await.unwrap();

                let (res, _) = client.write_all(b"ping".to_vec()).await;
                res.unwrap();
                let (res, buf) = server.read(vec![0; 64]).await;
                assert_eq!(&buf[..res.unwrap()], b"ping");
                let (res, _) = server.write_all(b"pong".to_vec()).await;
                res.unwrap();
                let (res, buf) = client.read(Vec::with_capacity(64)).await;
                assert_eq!(res.unwrap(), 4);
                assert_eq!(buf, b"pong", "a read sets the Vec's length to what arrived");
            });
        }
    });
}

#[test]
fn half_close_lets_the_peer_read_eof_and_still_reply() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            let (res, _) = client.write_all(b"request".to_vec()).await;
            res.unwrap();
            client.shutdown(Shutdown::Write).await.unwrap();

            let mut got = Vec::new();
            loop {
                let (res, buf) = server.read(vec![0; 3]).await;
                let n = res.unwrap();
                if n == 0 {
                    break; // EOF reads 0
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"request");
            let (res, _) = server.write_all(b"reply".to_vec()).await;
            res.unwrap();
            server.shutdown(Shutdown::Both).await.unwrap();

            let (res, buf) = client.read(vec![0; 16]).await;
            assert_eq!(&buf[..res.unwrap()], b"reply");
            let (res, _) = client.read(vec![0; 16]).await;
            assert_eq!(res.unwrap(), 0, "EOF after the server shut down");
        });
    });
}

#[test]
fn vectored_reads_and_writes_keep_the_byte_order() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            let parts = vec![b"one ".to_vec(), b"two ".to_vec(), b"three".to_vec()];
            let (res, parts) = client.writev(parts).await;
            assert_eq!(res.unwrap(), 13);
            assert_eq!(parts.len(), 3, "the buffers come back");
            client.shutdown(Shutdown::Write).await.unwrap();

            let mut got = Vec::new();
            loop {
                let bufs = vec![
                    Vec::with_capacity(2),
                    Vec::with_capacity(3),
                    Vec::with_capacity(100),
                ];
                let (res, bufs) = server.readv(bufs).await;
                if res.unwrap() == 0 {
                    break;
                }
                for b in &bufs {
                    got.extend_from_slice(b);
                }
            }
            assert_eq!(got, b"one two three");
        });
    });
}

#[test]
fn recv_flags_reach_the_kernel() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            let (res, _) = client.send(b"peekaboo".to_vec(), libc::MSG_MORE).await;
            assert_eq!(res.unwrap(), 8);
            let (res, _) = client.write_all(b"!".to_vec()).await;
            res.unwrap();
            let (res, buf) = server
                .recv(vec![0; 4], libc::MSG_PEEK | libc::MSG_WAITALL)
                .await;
            assert_eq!(&buf[..res.unwrap()], b"peek");
            let (res, buf) = server.recv(vec![0; 9], libc::MSG_WAITALL).await;
            assert_eq!(
                &buf[..res.unwrap()],
                b"peekaboo!",
                "peeked bytes are read again"
            );
        });
    });
}

#[test]
fn split_halves_echo_from_two_tasks_and_reunite() {
    watchdog(20, || {
        Runtime::new().unwrap().block_on(async {
            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            // Server: echo through split halves, in two tasks.
            let (server_rd, server_wr) = server.into_split();
            let (tx, rx) = async_channel::bounded::<Vec<u8>>(4);
            let reader = ringloop::spawn(async move {
                loop {
                    let (res, mut buf) = server_rd.read(vec![0; 1000]).await;
                    let n = res.unwrap();
                    if n == 0 {
                        return server_rd;
                    }
                    buf.truncate(n);
                    tx.send(buf).await.unwrap();
                }
            });
            let writer = ringloop::spawn(async move {
                while let Ok(buf) = rx.recv().await {
                    let (res, _) = server_wr.write_all(buf).await;
                    res.unwrap();
                }
                server_wr
            });

            let (client_rd, client_wr) = client.into_split();
            let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            let expected = payload.clone();
            let receiver = ringloop::spawn(async move {
                let mut echoed = Vec::new();
                loop {
                    let (res, buf) = client_rd.read(vec![0; 65536]).await;
                    let n = res.unwrap();
                    if n == 0 {
                        return echoed;
                    }
                    echoed.extend_from_slice(&buf[..n]);
                }
            });
            let (res, _) = client_wr.write_all(payload).await;
            res.unwrap();
            drop(client_wr); // shuts down writing: the server reads EOF

            let server_rd = reader.await.unwrap();
            let server_wr = writer.await.unwrap();
            let server = server_rd.reunite(server_wr).expect("halves of one stream");
            drop(server); // the client reads EOF after the echo
            let echoed = receiver.await.unwrap();
            assert!(echoed == expected, "the echo is byte-exact");
        });
    });
}

#[test]
fn halves_of_different_streams_do_not_reunite() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let (a, b) = tcp_pair("127.0.0.1:0").await.unwrap();
            let (a_rd, _a_wr) = a.into_split();
            let (_b_rd, b_wr) = b.into_split();
            assert!(a_rd.reunite(b_wr).is_err());
        });
    });
}

#[test]
fn addresses_options_and_std_conversions() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
            assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
            client.set_nodelay(true).unwrap();
            assert!(client.nodelay().unwrap());
            client.set_nodelay(false).unwrap();
            assert!(!client.nodelay().unwrap());

            // ringloop -> std -> ringloop keeps the connection.
            let mut std_client = client.into_std().unwrap();
            std_client.write_all(b"via std").unwrap();
            let (res, buf) = server.read(vec![0; 16]).await;
            assert_eq!(&buf[..res.unwrap()], b"via std");
            let client = TcpStream::from_std(std_client);
            let (res, _) = client.write_all(b"and back".to_vec()).await;
            res.unwrap();
            let (res, buf) = server.read(vec![0; 16]).await;
            assert_eq!(&buf[..res.unwrap()], b"and back");

            let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = std_listener.local_addr().unwrap();
            let listener = TcpListener::from_std(std_listener);
            let _c = TcpStream::connect(addr).await.unwrap();
            let (_s, _) = listener.accept().await.unwrap();
        });
    });
}

#[test]
fn connecting_to_a_closed_port_is_connection_refused() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let addr = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap()
            }; // closed again
            let err = TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        });
    });
}

#[test]
fn host_names_are_resolved_on_the_blocking_pool() {
    watchdog(20, || {
        Runtime::new().unwrap().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();

            let before = ringloop::stats().tasks_spawned;
            let _literal = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            assert_eq!(
                ringloop::stats().tasks_spawned,
                before,
                "a literal needs no lookup"
            );

            // "localhost" may resolve to ::1 first: connect tries each address.
            let named = TcpStream::connect(format!("localhost:{port}"))
                .await
                .unwrap();
            assert!(
                ringloop::stats().tasks_spawned > before,
                "the lookup ran through spawn_blocking"
            );
            assert!(named.peer_addr().unwrap().ip().is_loopback());
            let _ = listener.accept().await.unwrap();

            let err = TcpStream::connect("localhost:notaport").await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        });
    });
}

#[test]
fn reuseport_listeners_share_an_address() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let a = TcpListener::bind_reuseport("127.0.0.1:0").await.unwrap();
            let addr = a.local_addr().unwrap();
            let b = TcpListener::bind_reuseport(addr).await.unwrap();
            assert_eq!(b.local_addr().unwrap(), addr);
            let err = TcpListener::bind(addr).await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        });
    });
}
