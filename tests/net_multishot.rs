//! Multishot accept and multishot receive over a provided buffer ring.

mod common;
mod net_common;

use common::{poll_once, run_uring, watchdog};
use net_common::tcp_pair;
use ringloop::buf::BufRing;
use ringloop::net::{TcpListener, TcpStream, UnixStream};
use std::io::ErrorKind;
use std::pin::pin;

/// The bytes of message `i` of a burst: varied lengths, recognisable.
fn message(i: usize) -> Vec<u8> {
    let len = 1 + (i * 37) % 200;
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

#[test]
fn a_ring_of_two_buffers_delivers_a_burst_of_64_messages_byte_exact() {
    run_uring(20, || async {
        let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
        let mut expected = Vec::new();
        for i in 0..64 {
            let msg = message(i);
            expected.extend_from_slice(&msg);
            let (res, _) = client.write_all(msg).await;
            res.unwrap();
        }
        client.shutdown(std::net::Shutdown::Write).await.unwrap();

        // Two buffers of 64 bytes for ~6.4 KB already queued: the kernel
        // fills both, then ends the receive with ENOBUFS.
        let ring = BufRing::new(2, 64).unwrap();
        let mut stream = server.recv_multishot(&ring);
        let mut got = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.expect("ENOBUFS is handled by the stream, never yielded");
            assert!(chunk.len() <= 64);
            got.extend_from_slice(&chunk);
        } // each chunk goes back to the ring here
        assert_eq!(got.len(), expected.len(), "no byte lost or doubled");
        assert!(got == expected, "the bytes arrive in order");
        assert!(
            stream.rearms() > 0,
            "a ring of 2 buffers must run dry on this burst and be re-armed"
        );
        assert_eq!(ring.available(), 2, "every buffer is back in the ring");
    });
}

#[test]
fn a_chunk_held_by_the_program_is_not_reused_until_dropped() {
    run_uring(20, || async {
        let (client, server) = UnixStream::pair().unwrap();
        let ring = BufRing::new(2, 8).unwrap();
        let mut stream = server.recv_multishot(&ring);

        let (res, _) = client.write_all(b"AAAAAAAA".to_vec()).await;
        res.unwrap();
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(ring.available(), 1);
        let (res, _) = client.write_all(b"BBBBBBBB".to_vec()).await;
        res.unwrap();
        let second = stream.next().await.unwrap().unwrap();
        assert_eq!(ring.available(), 0);

        // The ring is dry while we hold both: more data waits in the socket.
        let (res, _) = client.write_all(b"CCCCCCCC".to_vec()).await;
        res.unwrap();
        let enters = ringloop::stats().enters;
        let third =
            ringloop::time::timeout(std::time::Duration::from_millis(50), stream.next()).await;
        assert!(
            third.is_err(),
            "nothing can be received while every buffer is held"
        );
        let enters = ringloop::stats().enters - enters;
        assert!(
            enters < 20,
            "{enters} io_uring_enter calls in 50 ms: a dry ring must not make the stream spin"
        );
        assert_eq!(
            &first[..],
            b"AAAAAAAA",
            "a held buffer is never overwritten"
        );
        assert_eq!(&second[..], b"BBBBBBBB");

        drop(first); // one buffer back: the stream re-arms and receives
        let third = stream.next().await.unwrap().unwrap();
        assert_eq!(&third[..], b"CCCCCCCC");
        drop((second, third));
        drop(client);
        assert!(stream.next().await.is_none(), "EOF ends the stream");
        assert_eq!(ring.available(), 2);
    });
}

#[test]
fn one_multishot_receive_serves_many_chunks_with_one_sqe() {
    run_uring(10, || async {
        let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
        let ring = BufRing::new(16, 64).unwrap();
        let mut stream = server.recv_multishot(&ring);
        let before = ringloop::stats().ops_submitted;
        for i in 0..20u8 {
            let (res, _) = client.write_all(vec![i; 10]).await;
            res.unwrap();
            let chunk = stream.next().await.unwrap().unwrap();
            assert_eq!(&chunk[..], &[i; 10]);
        }
        let ops = ringloop::stats().ops_submitted - before;
        assert_eq!(ops, 21, "20 sends and one receive for 20 chunks");
        assert_eq!(stream.rearms(), 0);
    });
}

#[test]
fn a_received_buffer_can_be_written_back_without_a_copy() {
    run_uring(10, || async {
        let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
        let ring = BufRing::new(4, 1024).unwrap();
        let (res, _) = client.write_all(b"echo me".to_vec()).await;
        res.unwrap();
        let chunk = server
            .read_ring(&ring)
            .await
            .unwrap()
            .expect("data, not EOF");
        assert_eq!(&chunk[..], b"echo me");
        let (res, chunk) = server.write_all(chunk).await; // RingBuf is an IoBuf
        res.unwrap();
        drop(chunk);
        assert_eq!(ring.available(), 4);
        let (res, buf) = client.read(vec![0; 64]).await;
        assert_eq!(&buf[..res.unwrap()], b"echo me");
        drop(client);
        assert!(
            server.read_ring(&ring).await.unwrap().is_none(),
            "EOF reads None"
        );
    });
}

#[test]
fn an_error_ends_the_stream_after_it_is_yielded() {
    run_uring(10, || async {
        let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
        let ring = BufRing::new(4, 64).unwrap();
        let mut stream = server.recv_multishot(&ring);
        net_common::reset_on_close(&client);
        drop(client);
        let err = stream.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        assert!(stream.next().await.is_none());
    });
}

#[test]
fn incoming_yields_every_connection_from_one_multishot_accept() {
    run_uring(20, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let before = ringloop::stats();
        let clients: Vec<_> = (0..50)
            .map(|_| ringloop::spawn(async move { TcpStream::connect(addr).await.unwrap() }))
            .collect();
        let mut incoming = listener.incoming();
        let mut servers = Vec::new();
        for _ in 0..50 {
            servers.push(incoming.next().await.unwrap());
        }
        let accepts = ringloop::stats().ops_submitted - before.ops_submitted - 50; // minus connects
        assert!(
            accepts < 5,
            "50 connections took {accepts} accept SQEs: multishot accept is one SQE"
        );
        let mut peers = Vec::new();
        for c in clients {
            peers.push(c.await.unwrap().local_addr().unwrap());
        }
        for s in &servers {
            assert!(peers.contains(&s.peer_addr().unwrap()));
        }
    });
}

#[test]
fn bad_ring_sizes_are_errors_not_panics() {
    ringloop::Builder::new()
        .driver(ringloop::Driver::Uring)
        .build()
        .unwrap()
        .block_on(async {
            for (entries, len) in [(3, 64), (0, 64), (4, 0)] {
                let err = BufRing::new(entries, len).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidInput, "{entries} x {len}");
            }
        });
    let err = BufRing::new(4, 64).unwrap_err();
    assert_ne!(
        err.kind(),
        ErrorKind::InvalidInput,
        "outside a runtime: {err}"
    );
}

#[test]
fn fifty_connections_share_a_ring_of_two_buffers_and_all_data_arrives() {
    run_uring(30, || async {
        let ring = BufRing::new(2, 16).unwrap();
        let mut receivers = Vec::new();
        let mut clients = Vec::new();
        for i in 0..50usize {
            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            let ring = ring.clone();
            // Every tenth receiver gives up early, while it may be
            // waiting for a buffer: its wake must pass to another.
            let quitter = i % 10 == 0;
            receivers.push(ringloop::spawn(async move {
                let mut stream = server.recv_multishot(&ring);
                let mut got = 0;
                while got < 200 {
                    let chunk = stream.next().await.unwrap().unwrap();
                    got += chunk.len();
                    drop(chunk);
                    if quitter && got >= 16 {
                        return None;
                    }
                    ringloop::yield_now().await; // let the others race for buffers
                }
                Some((got, stream.rearms()))
            }));
            clients.push(client);
        }
        for client in &clients {
            let (res, _) = client.write_all(vec![1u8; 200]).await;
            res.unwrap();
        }
        let mut rearms = 0;
        for r in receivers {
            if let Some((got, n)) = r.await.unwrap() {
                assert_eq!(got, 200, "every byte arrives");
                rearms += n;
            }
        }
        assert!(rearms > 0, "two buffers for fifty connections must run dry");
        assert_eq!(ring.available(), 2);
    });
}

#[test]
fn a_receiver_dropped_after_its_wake_passes_the_buffer_on() {
    run_uring(10, || async {
        let ring = BufRing::new(1, 16).unwrap();
        let (ca, a) = tcp_pair("127.0.0.1:0").await.unwrap();
        let (cb, b) = tcp_pair("127.0.0.1:0").await.unwrap();
        let (cc, c) = tcp_pair("127.0.0.1:0").await.unwrap();
        for client in [&ca, &cb, &cc] {
            let (res, _) = client.write_all(vec![5u8; 16]).await;
            res.unwrap();
        }
        let settle = || ringloop::time::sleep(std::time::Duration::from_millis(10));

        // A holds the only buffer.
        let mut sa = a.recv_multishot(&ring);
        let held = sa.next().await.unwrap().unwrap();
        // B meets ENOBUFS and queues first; C queues behind it.
        let mut sb = b.recv_multishot(&ring);
        assert!(poll_once(pin!(sb.next())).await.is_pending());
        settle().await;
        assert!(poll_once(pin!(sb.next())).await.is_pending());
        let ring_c = ring.clone();
        let receiver_c = ringloop::spawn(async move {
            let mut sc = c.recv_multishot(&ring_c);
            sc.next().await.unwrap().unwrap().len()
        });
        settle().await;

        drop(held); // the buffer comes back and wakes B ...
        drop(sb); // ... which goes away without using it: C must get it
        let got = ringloop::time::timeout(std::time::Duration::from_secs(2), receiver_c).await;
        assert_eq!(
            got.expect("C was never woken: the wake was lost").unwrap(),
            16
        );
    });
}

#[test]
fn a_tiny_completion_queue_loses_no_chunk_and_no_connection() {
    watchdog(30, || {
        // CQEs beyond 4 overflow into the kernel's list; a multishot op may
        // be ended by the kernel then, and must be re-armed.
        let rt = ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .entries(2)
            .cq_entries(4)
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut incoming = listener.incoming();
            assert!(poll_once(pin!(incoming.next())).await.is_pending());
            let clients: Vec<_> = (0..50)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect();
            let mut servers = Vec::new();
            for _ in 0..50 {
                servers.push(incoming.next().await.unwrap());
            }
            drop(clients);

            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            let mut expected = Vec::new();
            for i in 0..64 {
                expected.extend_from_slice(&message(i));
            }
            let (res, _) = client.write_all(expected.clone()).await;
            res.unwrap();
            drop(client);
            let ring = BufRing::new(256, 16).unwrap();
            let mut stream = server.recv_multishot(&ring);
            let mut got = Vec::new();
            while let Some(chunk) = stream.next().await {
                got.extend_from_slice(&chunk.unwrap());
            }
            assert!(got == expected, "byte-exact through CQ overflow");
        });
    });
}
