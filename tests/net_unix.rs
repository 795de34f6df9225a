//! Unix sockets: streams and datagrams over paths, abstract names and
//! socket pairs.

mod common;

use common::watchdog;
use ringloop::net::{UnixDatagram, UnixListener, UnixStream};
use ringloop::Runtime;
use std::io::ErrorKind;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::path::PathBuf;

/// A fresh socket path in the temp dir, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> TempPath {
        let path = std::env::temp_dir().join(format!("ringloop-{tag}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A unique abstract name (no file).
fn abstract_addr(tag: &str) -> SocketAddr {
    SocketAddr::from_abstract_name(format!("ringloop-{tag}-{}", std::process::id())).unwrap()
}

async fn ping_pong(a: &UnixStream, b: &UnixStream) {
    let (res, _) = a.write_all(b"ping".to_vec()).await;
    res.unwrap();
    let (res, buf) = b.read(vec![0; 16]).await;
    assert_eq!(&buf[..res.unwrap()], b"ping");
    let (res, _) = b.write_all(b"pong".to_vec()).await;
    res.unwrap();
    let (res, buf) = a.read(vec![0; 16]).await;
    assert_eq!(&buf[..res.unwrap()], b"pong");
}

#[test]
fn streams_round_trip_over_a_path() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let path = TempPath::new("stream");
            let listener = UnixListener::bind(&path.0).unwrap();
            assert_eq!(
                listener.local_addr().unwrap().as_pathname(),
                Some(path.0.as_path())
            );
            let client = UnixStream::connect(&path.0).await.unwrap();
            let (server, peer) = listener.accept().await.unwrap();
            assert!(peer.is_unnamed(), "a connecting socket has no name");
            assert_eq!(
                client.peer_addr().unwrap().as_pathname(),
                Some(path.0.as_path())
            );
            ping_pong(&client, &server).await;
        });
    });
}

#[test]
fn streams_round_trip_over_an_abstract_name() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let addr = abstract_addr("stream");
            let listener = UnixListener::bind_addr(&addr).unwrap();
            let local = listener.local_addr().unwrap();
            assert_eq!(local.as_abstract_name(), addr.as_abstract_name());
            let client = UnixStream::connect_addr(&addr).await.unwrap();
            let mut incoming = listener.incoming();
            let server = incoming.next().await.unwrap();
            ping_pong(&client, &server).await;
        });
    });
}

#[test]
fn a_stream_pair_round_trips_and_reads_eof_after_close() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            ping_pong(&a, &b).await;
            drop(a);
            let (res, _) = b.read(vec![0; 16]).await;
            assert_eq!(res.unwrap(), 0);
        });
    });
}

#[test]
fn datagrams_round_trip_over_paths_names_and_pairs() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            // Paths.
            let (pa, pb) = (TempPath::new("dgram-a"), TempPath::new("dgram-b"));
            let a = UnixDatagram::bind(&pa.0).unwrap();
            let b = UnixDatagram::bind(&pb.0).unwrap();
            let (res, _) = a.send_to(b"to b".to_vec(), &pb.0).await;
            assert_eq!(res.unwrap(), 4);
            let (res, buf) = b.recv_from(vec![0; 64]).await;
            let (n, from) = res.unwrap();
            assert_eq!(&buf[..n], b"to b");
            assert_eq!(from.as_pathname(), Some(pa.0.as_path()));

            // Abstract names.
            let (na, nb) = (abstract_addr("dgram-a"), abstract_addr("dgram-b"));
            let a = UnixDatagram::bind_addr(&na).unwrap();
            let b = UnixDatagram::bind_addr(&nb).unwrap();
            let (res, _) = a.send_to_addr(b"abstract".to_vec(), &nb).await;
            res.unwrap();
            let (res, buf) = b.recv_from(vec![0; 64]).await;
            let (n, from) = res.unwrap();
            assert_eq!(&buf[..n], b"abstract");
            assert_eq!(from.as_abstract_name(), na.as_abstract_name());

            // An unbound sender is unnamed; a connected one needs no address.
            let anon = UnixDatagram::unbound().unwrap();
            anon.connect_addr(&nb).unwrap();
            let (res, _) = anon.send(b"anon".to_vec()).await;
            res.unwrap();
            let (res, buf) = b.recv_from(vec![0; 64]).await;
            let (n, from) = res.unwrap();
            assert_eq!(&buf[..n], b"anon");
            assert!(from.is_unnamed());

            // A pair.
            let (x, y) = UnixDatagram::pair().unwrap();
            let (res, _) = x.send(b"pair".to_vec()).await;
            res.unwrap();
            let (res, buf) = y.recv(vec![0; 64]).await;
            assert_eq!(&buf[..res.unwrap()], b"pair");
        });
    });
}

#[test]
fn bad_addresses_are_errors_not_panics() {
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let long = "x".repeat(200);
            assert_eq!(
                UnixListener::bind(&long).unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
            assert_eq!(
                UnixListener::bind("").unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
            assert_eq!(
                UnixStream::connect("/nonexistent/ringloop.sock")
                    .await
                    .unwrap_err()
                    .kind(),
                ErrorKind::NotFound
            );
            let a = UnixDatagram::unbound().unwrap();
            let (res, _) = a.send_to(b"x".to_vec(), "bad\0path").await;
            assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
            let unnamed = UnixDatagram::unbound().unwrap().local_addr().unwrap();
            assert_eq!(
                UnixDatagram::bind_addr(&unnamed).unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
        });
    });
}
