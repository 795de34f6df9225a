//! hyper 1.x serves HTTP/1.1 over `ringloop::io::Compat` through the
//! `hyper::rt::{Read, Write}` impls (feature `hyper`), with no other glue:
//! one ringloop task per connection runs `server::conn::http1`.
//!
//! The client is ringloop's own TCP calls writing raw HTTP, so what is on
//! the wire is checked byte for byte. Each test runs on both drivers, each
//! run under a watchdog.

#![cfg(feature = "hyper")]

mod common;

use common::watchdog;
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use ringloop::io::Compat;
use ringloop::net::{OwnedReadHalf, TcpListener, TcpStream};
use ringloop::{Builder, Driver};
use std::convert::Infallible;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;

/// Answers `GET` with a greeting and `POST` with the body's length, after
/// reading the whole body frame by frame.
async fn service(req: Request<Incoming>) -> Result<Response<String>, Infallible> {
    if req.method() == hyper::Method::GET {
        return Ok(Response::new(format!("Hello {}!", req.uri().path())));
    }
    let mut body = req.into_body();
    let mut len = 0;
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame.expect("a body frame").into_data() {
            len += data.len();
        }
    }
    Ok(Response::new(format!("got {len} bytes")))
}

/// A server accepting `conns` connections, each served by its own task.
async fn serve(conns: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    ringloop::spawn(async move {
        for _ in 0..conns {
            let (stream, _) = listener.accept().await.unwrap();
            ringloop::spawn(async move {
                http1::Builder::new()
                    .serve_connection(Compat::new(stream), service_fn(service))
                    .await
                    .unwrap();
            });
        }
    });
    addr
}

/// Reads one response: its head and a `Content-Length` body.
async fn read_response(stream: &OwnedReadHalf, pending: &mut Vec<u8>) -> (String, String) {
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(pending[..end].to_vec()).unwrap();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .expect("a content-length")
                .parse()
                .unwrap();
            if pending.len() >= end + 4 + len {
                let body = String::from_utf8(pending[end + 4..end + 4 + len].to_vec()).unwrap();
                pending.drain(..end + 4 + len);
                return (head, body);
            }
        }
        let (res, buf) = stream.read(vec![0u8; 4096]).await;
        let n = res.unwrap();
        assert!(n > 0, "the server closed mid-response");
        pending.extend_from_slice(&buf[..n]);
    }
}

fn on_both_drivers(body: fn() -> Pin<Box<dyn std::future::Future<Output = ()>>>) {
    for driver in [Driver::Uring, Driver::Epoll] {
        watchdog(20, move || {
            Builder::new()
                .driver(driver)
                .build()
                .unwrap()
                .block_on(body())
        });
    }
}

#[test]
fn keep_alive_requests_on_one_connection_are_answered_in_order() {
    on_both_drivers(|| {
        Box::pin(async {
            let stream = TcpStream::connect(serve(1).await).await.unwrap();
            let (reader, writer) = stream.into_split();
            let mut pending = Vec::new();
            for path in ["/a", "/bb", "/ccc"] {
                let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
                writer.write_all(req.into_bytes()).await.0.unwrap();
                let (head, body) = read_response(&reader, &mut pending).await;
                assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
                assert_eq!(body, format!("Hello {path}!"));
            }
        })
    });
}

#[test]
fn pipelined_requests_and_a_large_body_go_through_the_adapter_buffers() {
    on_both_drivers(|| {
        Box::pin(async {
            let stream = TcpStream::connect(serve(1).await).await.unwrap();
            // Three requests in one write; the POST body is larger than
            // the adapter's 16 KiB buffers.
            let big = vec![b'x'; 100_000];
            let mut wire = b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
            wire.extend_from_slice(
                format!(
                    "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                    big.len()
                )
                .as_bytes(),
            );
            wire.extend_from_slice(&big);
            wire.extend_from_slice(b"GET /3 HTTP/1.1\r\nHost: t\r\n\r\n");
            let (reader, writer) = stream.into_split();
            let writer = ringloop::spawn(async move {
                writer.write_all(wire).await.0.unwrap();
                writer // kept open until the answers are read
            });
            let mut pending = Vec::new();
            for want in ["Hello /1!", "got 100000 bytes", "Hello /3!"] {
                let (head, body) = read_response(&reader, &mut pending).await;
                assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
                assert_eq!(body, want);
            }
            drop(writer.await.unwrap());
        })
    });
}

#[test]
fn many_connections_are_served_by_one_task_each() {
    on_both_drivers(|| {
        Box::pin(async {
            let addr = serve(50).await;
            let clients: Vec<_> = (0..50)
                .map(|i| {
                    ringloop::spawn(async move {
                        let stream = TcpStream::connect(addr).await.unwrap();
                        let (reader, writer) = stream.into_split();
                        let req = format!("GET /{i} HTTP/1.1\r\nHost: t\r\n\r\n");
                        writer.write_all(req.into_bytes()).await.0.unwrap();
                        let (_, body) = read_response(&reader, &mut Vec::new()).await;
                        assert_eq!(body, format!("Hello /{i}!"));
                    })
                })
                .collect();
            for c in clients {
                c.await.unwrap();
            }
        })
    });
}
