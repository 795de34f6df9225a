//! Soak: an echo server under a hostile load, watched for growth.
//!
//! The server (ringloop, on the driver of your choice) echoes every byte
//! and closes connections idle for more than a second (slowloris guard).
//! A load generator on another thread (its own ringloop runtime) opens
//! connections that randomly: echo a message and check every byte, reset
//! the connection mid-exchange (`SO_LINGER{0}`), half-close and drain the
//! echo, stall without sending, or blast a large burst. Every few seconds
//! it prints requests served, errors by kind, open fds and RSS; at the end
//! it fails if anything grew without bound or a byte came back wrong.
//!
//! ```text
//! cargo run --release --example soak -- --secs 60 [--driver uring|epoll]
//! ```

use ringloop::buf::IoBuf;
use ringloop::net::{TcpListener, TcpStream};
use ringloop::{Builder, Driver};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one soak run saw.
#[derive(Debug, Default)]
pub struct Report {
    /// Echo exchanges whose every byte came back right.
    pub verified: u64,
    /// Bytes the server echoed.
    pub echoed_bytes: u64,
    /// Client-side outcomes other than success, by kind.
    pub errors: BTreeMap<String, u64>,
    /// Open fds and RSS (KiB) at each sample.
    pub samples: Vec<(usize, u64)>,
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

/// Runs the server and the hostile load for `secs`, sampling every
/// `sample_every`.
pub fn run(secs: u64, driver: Driver, sample_every: Duration, print: bool) -> Report {
    let stop = Arc::new(AtomicBool::new(false));
    let echoed = Arc::new(AtomicU64::new(0));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server = {
        let (stop, echoed) = (Arc::clone(&stop), Arc::clone(&echoed));
        std::thread::spawn(move || serve(driver, stop, echoed, addr_tx))
    };
    let addr = addr_rx.recv().expect("the server's address");
    let mut report = load(addr, secs, sample_every, print);
    stop.store(true, Ordering::SeqCst);
    // Wake the accept loop so it sees `stop`.
    drop(std::net::TcpStream::connect(addr));
    server.join().expect("server thread");
    report.echoed_bytes = echoed.load(Ordering::SeqCst);
    report
}

fn serve(
    driver: Driver,
    stop: Arc<AtomicBool>,
    echoed: Arc<AtomicU64>,
    addr_tx: std::sync::mpsc::Sender<std::net::SocketAddr>,
) {
    let rt = Builder::new()
        .driver(driver)
        .build()
        .expect("server runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        addr_tx.send(listener.local_addr().unwrap()).unwrap();
        let mut incoming = listener.incoming();
        while !stop.load(Ordering::SeqCst) {
            let Ok(stream) = incoming.next().await else {
                continue; // errors are the client's doing (resets): go on
            };
            let echoed = Arc::clone(&echoed);
            ringloop::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let idle = Duration::from_secs(1);
                    let read = ringloop::time::timeout(idle, stream.read(buf)).await;
                    let Ok((res, b)) = read else {
                        return; // idle too long: slowloris guard
                    };
                    buf = b;
                    let n = match res {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let (res, b) = stream.write_all(buf.slice(..n)).await;
                    buf = b.into_inner();
                    if res.is_err() {
                        return;
                    }
                    echoed.fetch_add(n as u64, Ordering::Relaxed);
                    buf.clear();
                }
            });
        }
    });
}

fn load(addr: std::net::SocketAddr, secs: u64, sample_every: Duration, print: bool) -> Report {
    let rt = Builder::new().build().expect("load runtime");
    rt.block_on(async move {
        let report = Rc::new(std::cell::RefCell::new(Report::default()));
        let deadline = Instant::now() + Duration::from_secs(secs);
        let seed = Rc::new(Cell::new(0x9e37_79b9_7f4a_7c15u64));
        let workers: Vec<_> = (0..32)
            .map(|_| {
                let (report, seed) = (Rc::clone(&report), Rc::clone(&seed));
                ringloop::spawn(async move {
                    while Instant::now() < deadline {
                        let mut s = seed.get();
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        seed.set(s);
                        let outcome = one_connection(addr, s).await;
                        let mut r = report.borrow_mut();
                        match outcome {
                            Ok(true) => r.verified += 1,
                            Ok(false) => {}
                            Err(kind) => *r.errors.entry(kind).or_default() += 1,
                        }
                    }
                })
            })
            .collect();
        let sampler = {
            let report = Rc::clone(&report);
            ringloop::spawn(async move {
                let mut tick = ringloop::time::interval(sample_every);
                tick.tick().await;
                while Instant::now() < deadline {
                    tick.tick().await;
                    let sample = (open_fds(), rss_kib());
                    let mut r = report.borrow_mut();
                    r.samples.push(sample);
                    if print {
                        println!(
                            "{:>4} s  verified {:>8}  errors {:?}  fds {:>4}  rss {:>7} KiB",
                            r.samples.len() as u64 * sample_every.as_secs().max(1),
                            r.verified,
                            r.errors,
                            sample.0,
                            sample.1
                        );
                    }
                }
            })
        };
        for w in workers {
            w.await.expect("worker");
        }
        sampler.abort();
        let _ = sampler.await;
        Rc::try_unwrap(report)
            .expect("the workers are done")
            .into_inner()
    })
}

/// One connection doing one hostile (or honest) thing. `Ok(true)`: an
/// echo verified byte for byte; `Err(kind)`: what went wrong.
async fn one_connection(addr: std::net::SocketAddr, seed: u64) -> Result<bool, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("{:?}", e.kind()))?;
    let len = 1 + (seed >> 8) as usize % 4096;
    let message: Vec<u8> = (0..len).map(|i| (seed as usize + i * 31) as u8).collect();
    match seed % 8 {
        // Reset mid-exchange: send, then abort with an RST.
        0 => {
            let (res, _) = stream.write_all(message).await;
            res.map_err(|e| format!("{:?}", e.kind()))?;
            let std = stream.into_std().map_err(|e| format!("{:?}", e.kind()))?;
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: a valid linger struct for SO_LINGER on a socket we own.
            unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&std),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as u32,
                )
            };
            Ok(false)
        }
        // Stall: connect and say nothing (the server's idle guard ends it).
        1 => {
            ringloop::time::sleep(Duration::from_millis(50)).await;
            Ok(false)
        }
        // Half-close after sending: the echo must still come back whole.
        2 => {
            let (res, _) = stream.write_all(message.clone()).await;
            res.map_err(|e| format!("{:?}", e.kind()))?;
            stream
                .shutdown(std::net::Shutdown::Write)
                .await
                .map_err(|e| format!("{:?}", e.kind()))?;
            read_back(&stream, &message).await
        }
        // A burst of garbage (all bytes are valid to an echo server): 64 KiB.
        3 => {
            let burst: Vec<u8> = (0..65536).map(|i| (i * 7 + seed as usize) as u8).collect();
            let writer = async {
                let (res, _) = stream.write_all(burst.clone()).await;
                res.map_err(|e| format!("{:?}", e.kind()))
            };
            let (w, r) = join(writer, read_back(&stream, &burst)).await;
            w?;
            r
        }
        // An honest echo.
        _ => {
            let (res, _) = stream.write_all(message.clone()).await;
            res.map_err(|e| format!("{:?}", e.kind()))?;
            read_back(&stream, &message).await
        }
    }
}

async fn read_back(stream: &TcpStream, expected: &[u8]) -> Result<bool, String> {
    let mut got = 0;
    let mut buf = vec![0u8; 16 * 1024];
    while got < expected.len() {
        let (res, b) = stream.read(buf).await;
        buf = b;
        let n = res.map_err(|e| format!("{:?}", e.kind()))?;
        if n == 0 {
            return Err("EarlyEof".into());
        }
        if buf[..n] != expected[got..got + n] {
            return Err("CORRUPT".into());
        }
        got += n;
        buf.clear();
    }
    Ok(true)
}

/// Awaits two futures concurrently in one task.
async fn join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let (mut a, mut b) = (Box::pin(a), Box::pin(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    (ra.unwrap(), rb.unwrap())
}

#[allow(dead_code)] // a library for tests/soak.rs too
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let secs = arg("--secs").and_then(|s| s.parse().ok()).unwrap_or(60);
    let driver = match arg("--driver").as_deref() {
        Some("epoll") => Driver::Epoll,
        Some("uring") | None => Driver::Uring,
        Some(other) => panic!("--driver {other}: expected uring or epoll"),
    };
    println!("soak: {secs} s, driver {driver:?}, 32 hostile connections at a time");
    let report = run(secs, driver, Duration::from_secs(5), true);
    println!(
        "\nverified echoes {}, echoed bytes {}, errors {:?}",
        report.verified, report.echoed_bytes, report.errors
    );
    let (first, last) = (report.samples.first(), report.samples.last());
    if let (Some(first), Some(last)) = (first, last) {
        println!(
            "fds {} -> {}, RSS {} KiB -> {} KiB (first and last sample)",
            first.0, last.0, first.1, last.1
        );
    }
    let corrupt = report.errors.get("CORRUPT").copied().unwrap_or(0);
    assert_eq!(corrupt, 0, "an echoed byte came back wrong");
}
