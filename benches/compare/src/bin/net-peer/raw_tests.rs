//! The two raw loops are peers in the suite, so they must be right: each
//! answers pipelined and split HTTP requests, echoes large messages whole,
//! and closes a connection at its EOF.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use super::session::Protocol;
use super::{raw_epoll, raw_uring};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nHello world!";

type Serve = fn(TcpListener, Protocol) -> std::io::Result<()>;
const LOOPS: [(&str, Serve); 2] = [
    ("io-uring-raw", raw_uring::serve),
    ("epoll-raw", raw_epoll::serve),
];

/// A server of `serve` on a thread of its own (left running: the loops
/// never return), and a connection to it.
fn start(serve: Serve, protocol: Protocol) -> TcpStream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || serve(listener, protocol));
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

#[test]
fn pipelined_and_split_requests_get_one_response_each() {
    for (name, serve) in LOOPS {
        let mut s = start(serve, Protocol::Http);
        s.write_all(&[REQUEST, REQUEST, REQUEST].concat()).unwrap();
        let mut got = vec![0; RESPONSE.len() * 3];
        s.read_exact(&mut got).unwrap();
        assert_eq!(got, [RESPONSE, RESPONSE, RESPONSE].concat(), "{name}");
        // One request in two writes: answered once it is whole.
        s.write_all(&REQUEST[..10]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        s.write_all(&REQUEST[10..]).unwrap();
        let mut one = vec![0; RESPONSE.len()];
        s.read_exact(&mut one).unwrap();
        assert_eq!(one, RESPONSE, "{name}");
    }
}

#[test]
fn a_large_echo_comes_back_whole_and_eof_closes_the_connection() {
    for (name, serve) in LOOPS {
        let mut s = start(serve, Protocol::Echo);
        // More than the socket buffers hold while nobody reads, so the
        // server still has bytes to send when our EOF reaches it.
        let message: Vec<u8> = (0..32_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut reader = s.try_clone().unwrap();
        let expected = message.clone();
        let echoed = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let mut got = Vec::new();
            reader.read_to_end(&mut got).map(|_| got)
        });
        s.write_all(&message).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        // read_to_end returns only once the server closes after our EOF.
        let got = echoed.join().unwrap().unwrap();
        assert!(
            got == expected,
            "{name}: {} of {} bytes",
            got.len(),
            expected.len()
        );
    }
}
