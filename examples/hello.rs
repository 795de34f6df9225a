//! The smallest ringloop program: `#[ringloop::main]`, two tasks, a timer
//! and a TCP round trip on loopback.
//!
//! ```text
//! cargo run --example hello
//! ```
//!
//! `#[ringloop::main]` turns `async fn main` into a `fn main` that builds a
//! runtime (`driver = "epoll"` or `"uring"` picks one; the default follows
//! `RINGLOOP_DRIVER`, then io_uring with the epoll fallback) and blocks on
//! the body.

use ringloop::buf::IoBuf;
use ringloop::net::{TcpListener, TcpStream};
use std::io;
use std::time::Duration;

#[ringloop::main]
async fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;

    // An echo task: one connection, one message back.
    let echo = ringloop::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let (res, buf) = stream.read(vec![0u8; 64]).await;
        let n = res?;
        stream.write_all(buf.slice(..n)).await.0
    });

    ringloop::time::sleep(Duration::from_millis(1)).await;
    let stream = TcpStream::connect(addr).await?;
    stream.write_all(b"Hello world!" as &'static [u8]).await.0?;
    let (res, buf) = stream.read(vec![0u8; 64]).await;
    println!("{}", String::from_utf8_lossy(&buf[..res?]));
    echo.await.map_err(io::Error::other)??;
    println!("{}", ringloop::stats());
    Ok(())
}
