//! TCP echo server.
//!
//! ```text
//! cargo run --release --example echo -- 127.0.0.1:7000                 # plain read/write
//! cargo run --release --example echo -- 127.0.0.1:7000 --mode multishot # one multishot recv
//!                                                                       # per connection over a
//!                                                                       # shared buffer ring
//! options: --ring ENTRIES (256)  --buf BYTES (4096)  --stats SECS (off)
//! ```
//!
//! In `plain` mode each connection owns a buffer and loops `read` →
//! `write_all` (two ops per echo). In `multishot` mode each connection has
//! one multishot receive armed for its whole life; every chunk arrives in a
//! buffer of the shared ring and is written back as it is — no copy — and
//! returns to the ring when the write completes (one op per echo).

use ringloop::buf::{BufRing, IoBuf};
use ringloop::net::{TcpListener, TcpStream};
use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

struct Args {
    addr: String,
    multishot: bool,
    ring: u16,
    buf: usize,
    stats: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        addr: String::new(),
        multishot: false,
        ring: 256,
        buf: 4096,
        stats: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--mode" => {
                parsed.multishot = match value("--mode")?.as_str() {
                    "plain" => false,
                    "multishot" => true,
                    other => return Err(format!("unknown mode {other} (plain|multishot)")),
                }
            }
            "--ring" => {
                parsed.ring = value("--ring")?
                    .parse()
                    .map_err(|e| format!("--ring: {e}"))?
            }
            "--buf" => parsed.buf = value("--buf")?.parse().map_err(|e| format!("--buf: {e}"))?,
            "--stats" => {
                parsed.stats = Some(
                    value("--stats")?
                        .parse()
                        .map_err(|e| format!("--stats: {e}"))?,
                )
            }
            addr if !addr.starts_with('-') && parsed.addr.is_empty() => parsed.addr = addr.into(),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    if parsed.addr.is_empty() {
        return Err(
            "usage: echo ADDR [--mode plain|multishot] [--ring N] [--buf BYTES] [--stats SECS]"
                .into(),
        );
    }
    Ok(parsed)
}

fn main() -> io::Result<()> {
    let args = parse_args().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let rt = ringloop::Runtime::new()?;
    rt.block_on(async {
        let listener = TcpListener::bind(args.addr.as_str()).await?;
        let mode = if args.multishot { "multishot" } else { "plain" };
        eprintln!("echo: listening on {} ({mode})", listener.local_addr()?);
        let ring = if args.multishot {
            Some(BufRing::new(args.ring, args.buf)?)
        } else {
            None
        };
        let bytes = Rc::new(Cell::new(0u64));
        if let Some(secs) = args.stats {
            ringloop::spawn(report(Duration::from_secs(secs), Rc::clone(&bytes)));
        }
        let mut incoming = listener.incoming();
        loop {
            let stream = match incoming.next().await {
                Ok(stream) => stream,
                Err(e) => {
                    eprintln!("echo: accept: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let bytes = Rc::clone(&bytes);
            match &ring {
                Some(ring) => ringloop::spawn(echo_multishot(stream, ring.clone(), bytes)),
                None => ringloop::spawn(echo_plain(stream, args.buf, bytes)),
            };
        }
    })
}

/// `read` into an owned buffer, `write_all` it back, until EOF or error.
async fn echo_plain(stream: TcpStream, len: usize, bytes: Rc<Cell<u64>>) {
    let mut buf = vec![0u8; len];
    loop {
        let (res, b) = stream.read(buf).await;
        let n = match res {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let (res, b) = stream.write_all(b.slice(..n)).await;
        buf = b.into_inner();
        if res.is_err() {
            return;
        }
        bytes.set(bytes.get() + n as u64);
    }
}

/// One multishot receive; each ring buffer is written back as it is.
async fn echo_multishot(stream: TcpStream, ring: BufRing, bytes: Rc<Cell<u64>>) {
    let mut chunks = stream.recv_multishot(&ring);
    while let Some(Ok(chunk)) = chunks.next().await {
        let n = chunk.bytes_init() as u64;
        let (res, chunk) = stream.write_all(chunk).await;
        drop(chunk); // back to the ring
        if res.is_err() {
            return;
        }
        bytes.set(bytes.get() + n);
    }
}

/// Prints bytes echoed and `io_uring_enter` calls every `every`.
async fn report(every: Duration, bytes: Rc<Cell<u64>>) {
    let mut last = (ringloop::stats(), 0u64);
    loop {
        ringloop::time::sleep(every).await;
        let (stats, echoed) = (ringloop::stats(), bytes.get());
        let enters = stats.enters - last.0.enters;
        let mib = (echoed - last.1) as f64 / (1 << 20) as f64 / every.as_secs_f64();
        eprintln!("echo: {mib:.1} MiB/s echoed, {enters} io_uring_enter calls");
        last = (stats, echoed);
    }
}
