//! The HTTP peers of the `http` scenario: the same minimal HTTP/1.1
//! keep-alive "Hello world!" responder as ringloop's `examples/http.rs`,
//! written idiomatically on each other runtime, single-threaded.
//!
//! ```text
//! http-peer RUNTIME ADDR      RUNTIME: tokio | monoio | monoio-epoll | tokio-uring
//! ```
//!
//! Every version does the same work per read: read what is there into a
//! per-connection buffer (4 KiB), count the complete requests (each ends
//! with an empty line), keep the bytes of an incomplete one, and answer all
//! the complete ones with one write. Connections get `TCP_NODELAY`. It
//! prints `listening on ADDR` on stderr once it accepts, and runs until
//! killed.

use std::io;
use std::net::SocketAddr;

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nHello world!";

/// Each connection's read buffer.
const BUF: usize = 4096;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [runtime, addr] = &args[..] else {
        eprintln!("usage: http-peer tokio|monoio|monoio-epoll|tokio-uring ADDR");
        std::process::exit(2);
    };
    let addr: SocketAddr = match addr.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("http-peer: bad address {addr}: {e}");
            std::process::exit(2);
        }
    };
    let result = match runtime.as_str() {
        "tokio" => tokio_rt::main(addr),
        "monoio" => monoio_rt::main_uring(addr),
        "monoio-epoll" => monoio_rt::main_epoll(addr),
        "tokio-uring" => tokio_uring_rt::main(addr),
        other => {
            eprintln!("http-peer: unknown runtime {other}");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("http-peer {runtime}: {e}");
        std::process::exit(1);
    }
}

/// Number of complete requests (each ends with `\r\n\r\n`) at the start of
/// `buf`, and how many bytes they take. The same function as ringloop's
/// example.
fn count_requests(buf: &[u8]) -> (usize, usize) {
    let mut count = 0;
    let mut used = 0;
    let mut i = 0;
    while i + 4 <= buf.len() {
        match buf[i + 3..].iter().position(|&b| b == b'\n') {
            None => break,
            Some(p) => {
                let end = i + 3 + p;
                if &buf[end - 3..=end] == b"\r\n\r\n" {
                    count += 1;
                    used = end + 1;
                    i = end + 1;
                } else {
                    i = end - 2;
                }
            }
        }
    }
    (count, used)
}

/// `requests` responses, back to back, in `out`.
fn responses(out: &mut Vec<u8>, requests: usize) {
    out.clear();
    for _ in 0..requests {
        out.extend_from_slice(RESPONSE);
    }
}

/// tokio current-thread, the readiness model: `AsyncReadExt::read` into a
/// `&mut [u8]`, `AsyncWriteExt::write_all`.
mod tokio_rt {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    pub fn main(addr: SocketAddr) -> io::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let listener = TcpListener::bind(addr).await?;
            eprintln!("listening on {}", listener.local_addr()?);
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("accept: {e}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = serve(stream).await;
                });
            }
        })
    }

    async fn serve(mut stream: TcpStream) -> io::Result<()> {
        let mut buf = vec![0u8; BUF];
        let mut filled = 0;
        let mut out = Vec::with_capacity(RESPONSE.len() * 16);
        while filled < buf.len() {
            let n = stream.read(&mut buf[filled..]).await?;
            if n == 0 {
                return Ok(());
            }
            filled += n;
            let (requests, used) = count_requests(&buf[..filled]);
            buf.copy_within(used..filled, 0);
            filled -= used;
            if requests > 0 {
                responses(&mut out, requests);
                stream.write_all(&out).await?;
            }
        }
        Ok(()) // a request larger than the buffer
    }
}

/// monoio (io_uring driver, or its epoll "legacy" driver): owned buffers,
/// `AsyncReadRent::read` into a `SliceMut`, `AsyncWriteRentExt::write_all`.
mod monoio_rt {
    use super::*;
    use monoio::buf::{IoBufMut, SliceMut};
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
    use monoio::net::{TcpListener, TcpStream};

    pub fn main_uring(addr: SocketAddr) -> io::Result<()> {
        monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .enable_timer()
            .build()?
            .block_on(run(addr))
    }

    pub fn main_epoll(addr: SocketAddr) -> io::Result<()> {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()?
            .block_on(run(addr))
    }

    async fn run(addr: SocketAddr) -> io::Result<()> {
        let listener = TcpListener::bind(addr)?;
        eprintln!("listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            monoio::spawn(async move {
                let _ = serve(stream).await;
            });
        }
    }

    async fn serve(mut stream: TcpStream) -> io::Result<()> {
        let mut buf = vec![0u8; BUF];
        let mut filled = 0;
        let mut out = Vec::with_capacity(RESPONSE.len() * 16);
        while filled < BUF {
            let slice: SliceMut<Vec<u8>> = buf.slice_mut(filled..BUF);
            let (res, slice) = stream.read(slice).await;
            buf = slice.into_inner();
            buf.resize(BUF, 0);
            let n = res?;
            if n == 0 {
                return Ok(());
            }
            filled += n;
            let (requests, used) = count_requests(&buf[..filled]);
            buf.copy_within(used..filled, 0);
            filled -= used;
            if requests > 0 {
                responses(&mut out, requests);
                let (res, o) = stream.write_all(out).await;
                out = o;
                res?;
            }
        }
        Ok(())
    }
}

/// tokio-uring: owned buffers, `read` into a slice of a `Vec`, `write_all`.
mod tokio_uring_rt {
    use super::*;
    use tokio_uring::buf::BoundedBuf;
    use tokio_uring::net::{TcpListener, TcpStream};

    pub fn main(addr: SocketAddr) -> io::Result<()> {
        tokio_uring::start(async {
            let listener = TcpListener::bind(addr)?;
            eprintln!("listening on {}", listener.local_addr()?);
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("accept: {e}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                tokio_uring::spawn(async move {
                    let _ = serve(stream).await;
                });
            }
        })
    }

    async fn serve(stream: TcpStream) -> io::Result<()> {
        let mut buf = vec![0u8; BUF];
        let mut filled = 0;
        let mut out = Vec::with_capacity(RESPONSE.len() * 16);
        while filled < BUF {
            let (res, slice) = stream.read(buf.slice(filled..BUF)).await;
            buf = slice.into_inner();
            let n = res?;
            if n == 0 {
                return Ok(());
            }
            filled += n;
            let (requests, used) = count_requests(&buf[..filled]);
            buf.copy_within(used..filled, 0);
            filled -= used;
            if requests > 0 {
                responses(&mut out, requests);
                let (res, o) = stream.write_all(out).await;
                out = o;
                res?;
            }
        }
        Ok(())
    }
}
