//! What `ringloop::io::Compat` costs: a loopback TCP echo whose server is
//! ringloop's own owned-buffer calls, or the adapter driven through the
//! tokio traits, or through the futures traits — same run, interleaved.
//!
//! The client is always raw ringloop; client and server are tasks of one
//! runtime on one pinned CPU. Every server reads with a 16 KiB buffer (the
//! adapter's default) and writes back what it read, so each variant makes
//! the same ops; what differs is the adapter: two `memcpy`s per byte (into
//! the caller's slice, out of it into the write buffer), a boxed future per
//! op, and the polls between.
//!
//! * `ping-pong 64 B`: one 64-byte message at a time (per-message cost).
//! * `stream 64 KiB writes`: a writer task streams 64 KiB writes while a
//!   reader task takes the echo (per-byte cost: the copies).
//!
//! `cargo bench --bench compat --features tokio-io,futures-io`
//! (`BENCH_QUICK=1` for smaller sizes; see `benches/common`).

mod common;

use common::{header, interleave, pin, print_ratio, print_table, quick, Case};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use ringloop::buf::IoBuf;
use ringloop::io::Compat;
use ringloop::net::{TcpListener, TcpStream};
use std::future::poll_fn;
use std::pin::Pin;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const SERVER_BUF: usize = 16 * 1024;
const STREAM_CHUNK: usize = 64 * 1024;

#[derive(Clone, Copy)]
enum Server {
    Raw,
    CompatTokio,
    CompatFutures,
}

async fn serve(server: Server, stream: TcpStream) {
    match server {
        Server::Raw => {
            let mut buf = Vec::with_capacity(SERVER_BUF);
            loop {
                buf.clear();
                let (res, b) = stream.read(buf).await;
                let n = res.expect("read");
                if n == 0 {
                    return;
                }
                let (res, b) = stream.write_all(b.slice(..n)).await;
                res.expect("write");
                buf = b.into_inner();
            }
        }
        Server::CompatTokio => {
            let mut io = Compat::new(stream);
            let mut buf = vec![0u8; SERVER_BUF];
            loop {
                let n = poll_fn(|cx| {
                    let mut rb = ReadBuf::new(&mut buf);
                    Pin::new(&mut io)
                        .poll_read(cx, &mut rb)
                        .map_ok(|()| rb.filled().len())
                })
                .await
                .expect("read");
                if n == 0 {
                    return;
                }
                let mut rest = &buf[..n];
                while !rest.is_empty() {
                    let k = poll_fn(|cx| Pin::new(&mut io).poll_write(cx, rest))
                        .await
                        .expect("write");
                    rest = &rest[k..];
                }
                poll_fn(|cx| Pin::new(&mut io).poll_flush(cx))
                    .await
                    .expect("flush");
            }
        }
        Server::CompatFutures => {
            let mut io = Compat::new(stream);
            let mut buf = vec![0u8; SERVER_BUF];
            loop {
                let n = io.read(&mut buf).await.expect("read");
                if n == 0 {
                    return;
                }
                io.write_all(&buf[..n]).await.expect("write");
                io.flush().await.expect("flush");
            }
        }
    }
}

/// A runtime, a listener, the server task and a connected client.
fn with_echo<T>(server: Server, client: impl AsyncFnOnce(TcpStream) -> T) -> T {
    let rt = ringloop::Runtime::new().expect("runtime");
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accept = ringloop::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            stream.set_nodelay(true).expect("nodelay");
            serve(server, stream).await;
        });
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let out = client(stream).await;
        accept.await.expect("server task");
        out
    })
}

/// Messages per second, one 64-byte message in flight at a time.
fn ping_pong(server: Server, messages: u64) -> f64 {
    with_echo(server, async move |stream: TcpStream| {
        let msg: Vec<u8> = (0..64u8).collect();
        let mut out = msg.clone();
        let mut back = Vec::with_capacity(64);
        let start = Instant::now();
        for _ in 0..messages {
            let (res, o) = stream.write_all(out).await;
            res.expect("write");
            out = o;
            let mut got = 0;
            while got < 64 {
                back.clear();
                let (res, b) = stream.read(back).await;
                let n = res.expect("read");
                assert!(n > 0, "the echo closed early");
                got += n;
                back = b;
            }
        }
        let rate = messages as f64 / start.elapsed().as_secs_f64();
        drop(stream);
        rate
    })
}

/// Bytes per second echoed, streaming 64 KiB writes.
fn stream(server: Server, total: usize) -> f64 {
    with_echo(server, async move |stream: TcpStream| {
        let (reader, writer) = stream.into_split();
        let start = Instant::now();
        let send = ringloop::spawn(async move {
            let chunk: Vec<u8> = (0..STREAM_CHUNK).map(|i| i as u8).collect();
            let mut chunk = chunk;
            for _ in 0..total / STREAM_CHUNK {
                let (res, c) = writer.write_all(chunk).await;
                res.expect("write");
                chunk = c;
            }
            // Dropping the writing half shuts it down: the echo ends.
        });
        let mut got = 0;
        let mut buf = Vec::with_capacity(STREAM_CHUNK);
        loop {
            buf.clear();
            let (res, b) = reader.read(buf).await;
            let n = res.expect("read");
            if n == 0 {
                break;
            }
            got += n;
            buf = b;
        }
        send.await.expect("writer");
        assert_eq!(got, total / STREAM_CHUNK * STREAM_CHUNK, "bytes lost");
        got as f64 / start.elapsed().as_secs_f64()
    })
}

fn main() {
    pin();
    let (messages, total) = if quick() {
        (10_000, 64 << 20)
    } else {
        (50_000, 256 << 20)
    };
    header("io::Compat vs ringloop's own calls, loopback TCP echo");
    let servers = [
        ("raw", Server::Raw),
        ("compat (tokio traits)", Server::CompatTokio),
        ("compat (futures traits)", Server::CompatFutures),
    ];

    let mut cases: Vec<Case<'_>> = servers
        .iter()
        .map(|&(name, server)| Case {
            name,
            run: Box::new(move || ping_pong(server, messages)),
        })
        .collect();
    let summaries = interleave(&mut cases);
    print_table(
        &format!("ping-pong, 64 B messages, {messages} per run"),
        "msgs/s",
        &summaries,
    );
    print_ratio(&summaries, "compat (tokio traits)", "raw");
    print_ratio(&summaries, "compat (futures traits)", "raw");

    let mut cases: Vec<Case<'_>> = servers
        .iter()
        .map(|&(name, server)| Case {
            name,
            run: Box::new(move || stream(server, total)),
        })
        .collect();
    let summaries = interleave(&mut cases);
    print_table(
        &format!("stream, 64 KiB writes, {} MiB per run", total >> 20),
        "bytes/s",
        &summaries,
    );
    print_ratio(&summaries, "compat (tokio traits)", "raw");
    print_ratio(&summaries, "compat (futures traits)", "raw");
}
