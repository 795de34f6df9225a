//! Minimal HTTP/1.1 keep-alive responder: answers every request with
//! "Hello world!". The workload used to compare runtimes with `wrk`.
//!
//! ```text
//! cargo run --release --example http -- 127.0.0.1:8080
//! taskset -c 0 target/release/examples/http 127.0.0.1:8080 --stats 5
//! taskset -c 1 wrk -t1 -c64 -d10s http://127.0.0.1:8080/
//! options: --threads N (1; SO_REUSEPORT, one runtime per thread)
//!          --mode multishot|plain (multishot)
//!          --ring ENTRIES (512)  --buf BYTES (4096)  --stats SECS (off)
//!          --fixed SLOTS (0 = off): register each connection in a fixed
//!          file table of SLOTS slots, so its ops name the slot, not the fd
//!          --signal-stats: on SIGUSR1 print the counters on stdout, on
//!          SIGINT/SIGTERM print them and exit
//! ```
//!
//! * `multishot` (the default): each connection has one multishot receive
//!   for its whole life, over a ring of buffers shared by all connections
//!   of the thread: a request costs one CQE in and one send (SQE + CQE)
//!   out, and the loop makes one `io_uring_enter` per turn for all
//!   connections together.
//! * `plain`: each connection owns a buffer and loops `read` → `write_all`
//!   (two ops per request, an SQE and a CQE each).
//!
//! Pipelined requests that arrive in one chunk get their responses in one
//! send. A request is anything that ends with an empty line; bodies are not
//! supported (`wrk` sends `GET`s).
//!
//! With `--signal-stats`, each SIGUSR1 prints one line per thread,
//! `stats thread=I served=N syscalls=S enters=E waits=W cqes=C ops=O polled=P
//! parks=K`
//! (totals since start): a benchmark takes a snapshot before and after its
//! measured run and divides the differences by the requests served.

use ringloop::buf::{BufRing, IoBuf};
use ringloop::net::{TcpListener, TcpStream};
use std::cell::Cell;
use std::future::poll_fn;
use std::io::{self, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nHello world!";

/// Unparsed bytes a connection may hold before it is closed.
const MAX_PENDING: usize = 64 * 1024;

#[derive(Clone)]
struct Args {
    addr: String,
    threads: usize,
    multishot: bool,
    ring: u16,
    buf: usize,
    stats: Option<u64>,
    signal_stats: bool,
    fixed: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        addr: String::new(),
        threads: 1,
        multishot: true,
        ring: 512,
        buf: 4096,
        stats: None,
        signal_stats: false,
        fixed: 0,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--threads" => {
                parsed.threads = value("--threads")?
                    .parse()
                    .map_err(|e| format!("--threads: {e}"))?
            }
            "--mode" => {
                parsed.multishot = match value("--mode")?.as_str() {
                    "multishot" => true,
                    "plain" => false,
                    other => return Err(format!("unknown mode {other} (multishot|plain)")),
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
            "--signal-stats" => parsed.signal_stats = true,
            "--fixed" => {
                parsed.fixed = value("--fixed")?
                    .parse()
                    .map_err(|e| format!("--fixed: {e}"))?
            }
            addr if !addr.starts_with('-') && parsed.addr.is_empty() => parsed.addr = addr.into(),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    if parsed.addr.is_empty() {
        return Err(
            "usage: http ADDR [--threads N] [--mode multishot|plain] [--ring N] \
                    [--buf BYTES] [--stats SECS] [--signal-stats] [--fixed SLOTS]"
                .into(),
        );
    }
    if parsed.buf == 0 {
        return Err("--buf must be positive".into());
    }
    Ok(parsed)
}

fn main() -> io::Result<()> {
    let args = parse_args().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // Before any other thread exists, so that every thread blocks them.
    let signals = if args.signal_stats {
        Some(Signals::watch()?)
    } else {
        None
    };
    if args.threads <= 1 {
        return serve_thread(0, &args, signals);
    }
    let handles: Vec<_> = (0..args.threads)
        .map(|i| {
            let args = args.clone();
            let signals = signals.clone();
            std::thread::spawn(move || serve_thread(i, &args, signals))
        })
        .collect();
    for h in handles {
        h.join().expect("server thread panicked")?;
    }
    Ok(())
}

/// One runtime, one listener (shared through `SO_REUSEPORT` when there are
/// several threads), one buffer ring.
fn serve_thread(index: usize, args: &Args, signals: Option<Arc<Signals>>) -> io::Result<()> {
    let rt = ringloop::Runtime::new()?;
    rt.block_on(async {
        let listener = if args.threads > 1 {
            TcpListener::bind_reuseport(args.addr.as_str()).await?
        } else {
            TcpListener::bind(args.addr.as_str()).await?
        };
        listener.set_backlog(4096)?;
        let mode = if args.multishot { "multishot" } else { "plain" };
        eprintln!(
            "http[{index}]: listening on {} ({mode})",
            listener.local_addr()?
        );
        let ring = if args.multishot {
            Some(BufRing::new(args.ring, args.buf)?)
        } else {
            None
        };
        let table = if args.fixed > 0 {
            Some(ringloop::fs::FixedFiles::new(args.fixed)?)
        } else {
            None
        };
        let served = Rc::new(Cell::new(0u64));
        if let Some(secs) = args.stats {
            ringloop::spawn(report(index, Duration::from_secs(secs), Rc::clone(&served)));
        }
        if let Some(signals) = signals {
            ringloop::spawn(on_signals(index, signals, Rc::clone(&served)));
        }
        let mut incoming = listener.incoming();
        loop {
            match incoming.next().await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    if let Some(table) = &table {
                        // A full table leaves the connection on its fd.
                        let _ = stream.register(table);
                    }
                    let served = Rc::clone(&served);
                    match &ring {
                        Some(ring) => ringloop::spawn(serve(stream, ring.clone(), served)),
                        None => ringloop::spawn(serve_plain(stream, args.buf, served)),
                    };
                }
                Err(e) => eprintln!("http[{index}]: accept: {e}"),
            }
        }
    })
}

/// Answers the requests of one connection until EOF, an error, or garbage.
async fn serve(stream: TcpStream, ring: BufRing, served: Rc<Cell<u64>>) {
    let mut chunks = stream.recv_multishot(&ring);
    // Bytes of a request split across chunks.
    let mut pending: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::with_capacity(RESPONSE.len() * 16);
    while let Some(Ok(chunk)) = chunks.next().await {
        let requests = if pending.is_empty() {
            let (n, used) = count_requests(&chunk);
            pending.extend_from_slice(&chunk[used..]);
            n
        } else {
            pending.extend_from_slice(&chunk);
            let (n, used) = count_requests(&pending);
            pending.drain(..used);
            n
        };
        drop(chunk); // back to the ring before we wait on the send
        if pending.len() > MAX_PENDING {
            return;
        }
        if requests == 0 {
            continue;
        }
        out.clear();
        for _ in 0..requests {
            out.extend_from_slice(RESPONSE);
        }
        let (res, buf) = stream.write_all(out).await;
        out = buf;
        if res.is_err() {
            return;
        }
        served.set(served.get() + requests as u64);
    }
}

/// [`serve`] with a buffer of its own per connection: `read` → `write_all`.
async fn serve_plain(stream: TcpStream, len: usize, served: Rc<Cell<u64>>) {
    let mut buf = vec![0u8; len].into_boxed_slice();
    // Bytes at the start of `buf` that are part of a request not complete yet.
    let mut filled = 0;
    let mut out: Vec<u8> = Vec::with_capacity(RESPONSE.len() * 16);
    loop {
        if filled == buf.len() {
            return; // a request larger than the buffer
        }
        let (res, b) = stream.read(buf.slice(filled..)).await;
        buf = b.into_inner();
        match res {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        let (requests, used) = count_requests(&buf[..filled]);
        buf.copy_within(used..filled, 0);
        filled -= used;
        if requests == 0 {
            continue;
        }
        out.clear();
        for _ in 0..requests {
            out.extend_from_slice(RESPONSE);
        }
        let (res, o) = stream.write_all(out).await;
        out = o;
        if res.is_err() {
            return;
        }
        served.set(served.get() + requests as u64);
    }
}

/// Number of complete requests (each ends with `\r\n\r\n`) at the start of
/// `buf`, and how many bytes they take.
fn count_requests(buf: &[u8]) -> (usize, usize) {
    let mut count = 0;
    let mut used = 0;
    let mut i = 0;
    while i + 4 <= buf.len() {
        // Jump from '\n' to '\n': the terminator is "\r\n\r\n".
        match buf[i + 3..].iter().position(|&b| b == b'\n') {
            None => break,
            Some(p) => {
                let end = i + 3 + p; // index of a '\n'
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

/// Prints requests per second and `io_uring_enter` calls per request.
async fn report(index: usize, every: Duration, served: Rc<Cell<u64>>) {
    let mut last = (ringloop::stats(), 0u64);
    loop {
        ringloop::time::sleep(every).await;
        let (stats, done) = (ringloop::stats(), served.get());
        let requests = done - last.1;
        let enters = stats.enters - last.0.enters;
        let per_req = if requests > 0 {
            enters as f64 / requests as f64
        } else {
            0.0
        };
        eprintln!(
            "http[{index}]: {:.0} req/s, {per_req:.3} io_uring_enter per request",
            requests as f64 / every.as_secs_f64()
        );
        last = (stats, done);
    }
}

/// SIGUSR1, SIGINT and SIGTERM, taken by a thread of their own (`sigwait`)
/// and handed to each runtime's [`on_signals`] task through its waker.
struct Signals {
    /// Signals seen so far; each runtime prints once per new value.
    seen: AtomicU64,
    /// SIGINT or SIGTERM arrived: print, then exit.
    exit: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl Signals {
    /// Blocks the three signals in this thread (and so in every thread it
    /// creates after) and starts the thread that waits for them.
    fn watch() -> io::Result<Arc<Signals>> {
        // SAFETY: a zeroed sigset_t is valid for sigemptyset, which
        // initialises it; the calls only read and write `set`.
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGUSR1, libc::SIGINT, libc::SIGTERM] {
                libc::sigaddset(&mut set, sig);
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            set
        };
        let signals = Arc::new(Signals {
            seen: AtomicU64::new(0),
            exit: AtomicBool::new(false),
            wakers: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&signals);
        std::thread::Builder::new()
            .name("http-signals".into())
            .spawn(move || loop {
                let mut sig = 0;
                // SAFETY: `set` is an initialised sigset_t, `sig` a live int.
                if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                    continue;
                }
                let exit = sig != libc::SIGUSR1;
                s.exit.fetch_or(exit, Ordering::SeqCst);
                s.seen.fetch_add(1, Ordering::SeqCst);
                for w in s.wakers.lock().unwrap().drain(..) {
                    w.wake();
                }
                if exit {
                    // Let the runtimes print, then end the process.
                    std::thread::sleep(Duration::from_millis(200));
                    std::process::exit(0);
                }
            })?;
        Ok(signals)
    }
}

/// Prints this thread's counters at each signal.
async fn on_signals(index: usize, signals: Arc<Signals>, served: Rc<Cell<u64>>) {
    let mut last = 0;
    loop {
        poll_fn(|cx| {
            let seen = signals.seen.load(Ordering::SeqCst);
            if seen != last {
                last = seen;
                return Poll::Ready(());
            }
            signals.wakers.lock().unwrap().push(cx.waker().clone());
            // A signal between the load and the push found no waker: look again.
            if signals.seen.load(Ordering::SeqCst) != last {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
        .await;
        let s = ringloop::stats();
        let mut out = io::stdout().lock();
        let _ = writeln!(
            out,
            "stats thread={index} served={} syscalls={} enters={} waits={} cqes={} ops={} \
             polled={} parks={}",
            served.get(),
            s.io_syscalls(),
            s.enters,
            s.waits,
            s.cqes_reaped,
            s.ops_submitted,
            s.tasks_polled,
            s.parks
        );
        let _ = out.flush();
        if signals.exit.load(Ordering::SeqCst) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::count_requests;

    #[test]
    fn requests_are_counted_across_chunk_boundaries() {
        let one = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(count_requests(one), (1, one.len()));
        let two = [&one[..], &one[..]].concat();
        assert_eq!(count_requests(&two), (2, two.len()));
        assert_eq!(count_requests(&one[..one.len() - 1]), (0, 0));
        let split = [&one[..], &one[..10]].concat();
        assert_eq!(count_requests(&split), (1, one.len()));
        assert_eq!(count_requests(b"\r\n\r\n"), (1, 4));
        assert_eq!(count_requests(b"\n\n\n\n"), (0, 0));
    }
}
