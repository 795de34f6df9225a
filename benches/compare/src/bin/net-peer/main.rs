//! The peers' servers for the network scenarios (`http`, `echo`): the same
//! server as ringloop's `examples/http.rs` / `examples/echo.rs`, written
//! idiomatically on each other runtime, single-threaded.
//!
//! ```text
//! net-peer PROTOCOL RUNTIME ADDR
//!     PROTOCOL: http | echo   (see session.rs)
//!     RUNTIME:  tokio | monoio | monoio-epoll | tokio-uring | compio | glommio
//!               | io-uring-raw | epoll-raw
//! ```
//!
//! Two more peers have no runtime: `io-uring-raw` ([`raw_uring`]) and
//! `epoll-raw` ([`raw_epoll`]), one hand-written event loop each, the
//! floor of what each model costs on this machine.
//!
//! Every runtime runs the same loop per connection (see [`session`]): read
//! what is there into a per-connection buffer, hand it to the [`Session`],
//! send what it says. Only how bytes move differs: borrowed buffers on
//! tokio and glommio (its `futures-io` streams), owned buffers on monoio,
//! tokio-uring and compio. Connections get `TCP_NODELAY`. The server prints
//! `listening on ADDR` on stderr once it accepts, and runs until killed.

mod raw_epoll;
#[cfg(test)]
mod raw_tests;
mod raw_uring;
mod session;

use std::io;
use std::net::SocketAddr;

use session::{Protocol, Reply, Session};

const USAGE: &str =
    "usage: net-peer http|echo tokio|monoio|monoio-epoll|tokio-uring|compio|glommio|io-uring-raw|epoll-raw ADDR";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [protocol, runtime, addr] = &args[..] else {
        fail(2, USAGE);
    };
    let Some(protocol) = Protocol::parse(protocol) else {
        fail(2, USAGE);
    };
    let addr: SocketAddr = addr
        .parse()
        .unwrap_or_else(|e| fail(2, &format!("net-peer: bad address {addr}: {e}")));
    let result = match runtime.as_str() {
        "tokio" => tokio_rt::main(addr, protocol),
        "monoio" => monoio_rt::main(addr, protocol, false),
        "monoio-epoll" => monoio_rt::main(addr, protocol, true),
        "tokio-uring" => tokio_uring_rt::main(addr, protocol),
        "compio" => compio_rt::main(addr, protocol),
        "glommio" => glommio_rt::main(addr, protocol),
        "io-uring-raw" => raw_uring::main(addr, protocol),
        "epoll-raw" => raw_epoll::main(addr, protocol),
        _ => fail(2, USAGE),
    };
    if let Err(e) = result {
        fail(1, &format!("net-peer {runtime}: {e}"));
    }
}

fn fail(code: i32, msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(code)
}

fn listening(addr: io::Result<SocketAddr>) -> io::Result<()> {
    eprintln!("listening on {}", addr?);
    Ok(())
}

fn accept_failed(e: impl std::fmt::Display) {
    eprintln!("accept: {e}");
}

/// The raw loops' connection table, indexed by fd: `fd`'s entry, grown to
/// hold it.
fn slot<T>(table: &mut Vec<Option<T>>, fd: std::os::fd::RawFd) -> &mut Option<T> {
    let index = fd as usize;
    if table.len() <= index {
        table.resize_with(index + 1, || None);
    }
    &mut table[index]
}

/// `TCP_NODELAY` on an accepted socket (the raw peers; the runtimes' peers
/// use their own `set_nodelay`).
fn set_nodelay(fd: std::os::fd::RawFd) {
    let on: libc::c_int = 1;
    // SAFETY: passes a socket fd and a pointer to an int of the given size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

/// tokio current-thread, the readiness model: `AsyncReadExt::read` into a
/// `&mut [u8]`, `AsyncWriteExt::write_all`.
mod tokio_rt {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    pub fn main(addr: SocketAddr, protocol: Protocol) -> io::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let listener = TcpListener::bind(addr).await?;
            listening(listener.local_addr())?;
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(serve(stream, protocol));
                    }
                    Err(e) => accept_failed(e),
                }
            }
        })
    }

    async fn serve(mut stream: TcpStream, protocol: Protocol) -> io::Result<()> {
        let mut session = Session::new(protocol);
        let mut buf = vec![0u8; protocol.buf_len()];
        while let Some(at) = session.read_at() {
            let n = stream.read(&mut buf[at..]).await?;
            if n == 0 {
                break;
            }
            match session.on_read(&mut buf, n) {
                Reply::Nothing => {}
                Reply::Echo(n) => stream.write_all(&buf[..n]).await?,
                Reply::Out => stream.write_all(session.out()).await?,
            }
        }
        Ok(())
    }
}

/// monoio (io_uring driver, or its epoll "legacy" driver): owned buffers,
/// `AsyncReadRent::read` into a `SliceMut`, `AsyncWriteRentExt::write_all`.
mod monoio_rt {
    use super::*;
    use monoio::buf::{IoBuf, IoBufMut};
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
    use monoio::net::{TcpListener, TcpStream};

    pub fn main(addr: SocketAddr, protocol: Protocol, epoll: bool) -> io::Result<()> {
        if epoll {
            monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                .enable_timer()
                .build()?
                .block_on(run(addr, protocol))
        } else {
            monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .enable_timer()
                .build()?
                .block_on(run(addr, protocol))
        }
    }

    async fn run(addr: SocketAddr, protocol: Protocol) -> io::Result<()> {
        let listener = TcpListener::bind(addr)?;
        listening(listener.local_addr())?;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    monoio::spawn(serve(stream, protocol));
                }
                Err(e) => accept_failed(e),
            }
        }
    }

    async fn serve(mut stream: TcpStream, protocol: Protocol) -> io::Result<()> {
        let mut session = Session::new(protocol);
        let len = protocol.buf_len();
        let mut buf = vec![0u8; len];
        while let Some(at) = session.read_at() {
            let (res, slice) = stream.read(buf.slice_mut(at..len)).await;
            buf = slice.into_inner();
            buf.resize(len, 0);
            let n = res?;
            if n == 0 {
                break;
            }
            match session.on_read(&mut buf, n) {
                Reply::Nothing => {}
                Reply::Echo(n) => {
                    let (res, slice) = stream.write_all(buf.slice(..n)).await;
                    buf = slice.into_inner();
                    res?;
                }
                Reply::Out => {
                    let (res, out) = stream.write_all(session.take_out()).await;
                    session.put_out(out);
                    res?;
                }
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

    pub fn main(addr: SocketAddr, protocol: Protocol) -> io::Result<()> {
        tokio_uring::start(async {
            let listener = TcpListener::bind(addr)?;
            listening(listener.local_addr())?;
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        tokio_uring::spawn(serve(stream, protocol));
                    }
                    Err(e) => accept_failed(e),
                }
            }
        })
    }

    async fn serve(stream: TcpStream, protocol: Protocol) -> io::Result<()> {
        let mut session = Session::new(protocol);
        let len = protocol.buf_len();
        let mut buf = vec![0u8; len];
        while let Some(at) = session.read_at() {
            let (res, slice) = stream.read(buf.slice(at..len)).await;
            buf = slice.into_inner();
            let n = res?;
            if n == 0 {
                break;
            }
            match session.on_read(&mut buf, n) {
                Reply::Nothing => {}
                Reply::Echo(n) => {
                    let (res, slice) = stream.write_all(buf.slice(..n)).await;
                    buf = slice.into_inner();
                    res?;
                }
                Reply::Out => {
                    let (res, out) = stream.write_all(session.take_out()).await;
                    session.put_out(out);
                    res?;
                }
            }
        }
        Ok(())
    }
}

/// compio (its io_uring driver): owned buffers; a read appends to a `Vec`
/// (into its spare capacity), `AsyncWriteExt::write_all` sends a whole one.
mod compio_rt {
    use super::*;
    use compio::buf::BufResult;
    use compio::io::{AsyncRead, AsyncWriteExt};
    use compio::net::{TcpListener, TcpStream};

    pub fn main(addr: SocketAddr, protocol: Protocol) -> io::Result<()> {
        compio::runtime::Runtime::new()?.block_on(async {
            let listener = TcpListener::bind(addr).await?;
            listening(listener.local_addr())?;
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        compio::runtime::spawn(serve(stream, protocol)).detach();
                    }
                    Err(e) => accept_failed(e),
                }
            }
        })
    }

    async fn serve(mut stream: TcpStream, protocol: Protocol) -> io::Result<()> {
        let mut session = Session::new(protocol);
        let mut buf = Vec::with_capacity(protocol.buf_len());
        while let Some(at) = session.read_at() {
            buf.truncate(at); // the unanswered bytes stay, the read appends
            let BufResult(res, b) = stream.read(buf).await;
            buf = b;
            let n = res?;
            if n == 0 {
                break;
            }
            match session.on_read(&mut buf, n) {
                Reply::Nothing => {}
                Reply::Echo(n) => {
                    buf.truncate(n);
                    let BufResult(res, b) = stream.write_all(buf).await;
                    buf = b;
                    res?;
                }
                Reply::Out => {
                    let BufResult(res, out) = stream.write_all(session.take_out()).await;
                    session.put_out(out);
                    res?;
                }
            }
        }
        Ok(())
    }
}

/// glommio (io_uring, its own executor): `futures-io` streams, so
/// `AsyncReadExt::read` into a `&mut [u8]`, `AsyncWriteExt::write_all`.
mod glommio_rt {
    use super::*;
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use glommio::net::{TcpListener, TcpStream};

    pub fn main(addr: SocketAddr, protocol: Protocol) -> io::Result<()> {
        // Placement::Unbound (the default): the thread keeps the CPU the
        // suite pinned the process to.
        let ex = glommio::LocalExecutorBuilder::default()
            .make()
            .map_err(error)?;
        ex.run(async {
            let listener = TcpListener::bind(addr).map_err(error)?;
            listening(listener.local_addr().map_err(error))?;
            loop {
                match listener.accept().await {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        glommio::spawn_local(serve(stream, protocol)).detach();
                    }
                    Err(e) => accept_failed(e),
                }
            }
        })
    }

    async fn serve(mut stream: TcpStream, protocol: Protocol) -> io::Result<()> {
        let mut session = Session::new(protocol);
        let mut buf = vec![0u8; protocol.buf_len()];
        while let Some(at) = session.read_at() {
            let n = stream.read(&mut buf[at..]).await?;
            if n == 0 {
                break;
            }
            match session.on_read(&mut buf, n) {
                Reply::Nothing => {}
                Reply::Echo(n) => stream.write_all(&buf[..n]).await?,
                Reply::Out => stream.write_all(session.out()).await?,
            }
        }
        Ok(())
    }

    /// glommio's errors may hold a non-`Sync` payload: keep the message.
    fn error(e: glommio::GlommioError<()>) -> io::Error {
        io::Error::other(e.to_string())
    }
}
