//! The echo load shared by `examples/tour.rs` (act 2) and
//! `examples/compare.rs`: a server runtime on the driver under test, a
//! client runtime on io_uring, each on its own thread, over loopback TCP.
//!
//! * **Server** (thread `server`, pinned to CPU 0 when there are two): one
//!   runtime built on the driver under test. It accepts `connections`
//!   connections, then echoes each one with a task that loops `read` →
//!   `write_all` until EOF. Its counters ([`ringloop::Stats`]) are taken
//!   once every connection is accepted and again when the last one ends;
//!   the difference, with the bytes echoed in between, gives the per-request
//!   costs, so connection setup is left out.
//! * **Client** (thread `client`, pinned to CPU 1): one io_uring runtime.
//!   It connects every connection first, then each connection keeps `depth`
//!   requests of `size` bytes in flight (a writer task sends as many new
//!   requests as replies came back, in one `write_all`; a reader task
//!   counts replies). A request's latency runs from just before its send to
//!   the read that completes its reply. After `duration` (or `requests` per
//!   connection) the writer stops, waits for the replies still due, and
//!   shuts down its side; the server sees EOF and closes.
//!
//! Included with `#[path = "support/load.rs"] mod load;`: both examples use
//! the same code. Not every example uses every item.
#![allow(dead_code)]

use ringloop::buf::IoBuf;
use ringloop::net::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
use ringloop::{Builder, Driver, Stats};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// The server's driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// io_uring, one `io_uring_enter` per loop turn (the default).
    Uring,
    /// epoll (the readiness model).
    Epoll,
    /// io_uring with `Builder::submit_each_op(true)`: one enter per op.
    UringNaive,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Uring => "uring",
            Mode::Epoll => "epoll",
            Mode::UringNaive => "uring-naive",
        }
    }

    pub fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "uring" | "io_uring" => Ok(Mode::Uring),
            "epoll" => Ok(Mode::Epoll),
            "uring-naive" | "naive" => Ok(Mode::UringNaive),
            other => Err(format!(
                "unknown driver {other:?} (expected uring, epoll or uring-naive)"
            )),
        }
    }

    fn builder(self) -> Builder {
        match self {
            Mode::Uring => Builder::new().driver(Driver::Uring),
            Mode::Epoll => Builder::new().driver(Driver::Epoll),
            Mode::UringNaive => Builder::new().driver(Driver::Uring).submit_each_op(true),
        }
    }

    fn is_uring(self) -> bool {
        matches!(self, Mode::Uring | Mode::UringNaive)
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Params {
    pub connections: usize,
    /// Bytes per request (and per reply).
    pub size: usize,
    /// Requests in flight per connection.
    pub depth: usize,
    /// How long the client sends new requests…
    pub duration: Duration,
    /// …or, if set, how many requests each connection sends.
    pub requests: Option<u64>,
    /// Pin the server to CPU 0 and the client to CPU 1 (when both exist).
    pub pin: bool,
    /// If not zero: once the server listens, print its thread id (for
    /// `strace -p`) and wait this long before starting the client.
    pub pause: Duration,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            connections: 32,
            size: 64,
            depth: 1,
            duration: Duration::from_secs(2),
            requests: None,
            pin: true,
            pause: Duration::ZERO,
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug)]
pub struct Report {
    pub mode: Mode,
    /// Replies the client received.
    pub requests: u64,
    /// From the client's first send to its last reply.
    pub elapsed: Duration,
    /// CPU time the client thread used meanwhile.
    pub client_cpu: Duration,
    pub p50: Duration,
    pub p99: Duration,
    /// The server's counters over its window (all accepted → all closed).
    pub server: Stats,
    /// CPU time (user + system) the server thread used in that window…
    pub server_cpu: Duration,
    /// …and the window's length.
    pub server_wall: Duration,
    /// Requests the server echoed in that window (bytes / size).
    pub server_requests: u64,
    /// The server's counters over its whole life (setup included).
    pub server_total: Stats,
    /// The server thread's id.
    pub server_tid: i32,
    /// CPU time that other processes used during the run, as a fraction
    /// of all CPUs (from `/proc/stat`, minus this process's own time): a
    /// busy machine makes every figure worse.
    pub others_busy: Option<f64>,
}

impl Report {
    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn per_request(&self, n: u64) -> f64 {
        n as f64 / self.server_requests.max(1) as f64
    }

    /// Server-side I/O syscalls ([`Stats::io_syscalls`]) per request.
    pub fn syscalls_per_request(&self) -> f64 {
        self.per_request(self.server.io_syscalls())
    }

    /// Server CPU time per request.
    pub fn server_cpu_per_request(&self) -> Duration {
        Duration::from_secs_f64(self.server_cpu.as_secs_f64() / self.server_requests.max(1) as f64)
    }

    /// Fraction of its window the server thread was on a CPU.
    pub fn server_busy(&self) -> f64 {
        self.server_cpu.as_secs_f64() / self.server_wall.as_secs_f64().max(1e-9)
    }

    /// Fraction of its window the client thread was on a CPU.
    pub fn client_busy(&self) -> f64 {
        self.client_cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// `io_uring_enter` (uring) or `epoll_wait` (epoll) calls per request.
    pub fn waits_per_request(&self) -> f64 {
        self.per_request(self.server.enters + self.server.epoll_waits)
    }

    /// CQEs reaped per `io_uring_enter` (uring only).
    pub fn cqes_per_enter(&self) -> Option<f64> {
        (self.mode.is_uring() && self.server.enters > 0)
            .then(|| self.server.cqes_reaped as f64 / self.server.enters as f64)
    }
}

/// Runs the load once with the server on `mode`.
///
/// # Errors
///
/// Setting up either runtime, binding, connecting, or an I/O error on a
/// connection.
pub fn run(mode: Mode, params: &Params) -> io::Result<Report> {
    if params.connections == 0 || params.size == 0 || params.depth == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "connections, size and depth must be at least 1",
        ));
    }
    let pin = params.pin && cpus() >= 2;
    let (ready_tx, ready_rx) = mpsc::channel();
    let server_params = params.clone();
    let server = std::thread::Builder::new()
        .name("server".into())
        .spawn(move || serve(mode, &server_params, pin, ready_tx))?;
    let Ok((addr, tid)) = ready_rx.recv() else {
        // The server failed before listening: its error says why.
        return Err(join(server)
            .err()
            .unwrap_or_else(|| io::Error::other("the server stopped before it listened")));
    };
    if !params.pause.is_zero() {
        println!(
            "server thread id {tid} (on {}); starting in {:?}",
            mode.name(),
            params.pause
        );
        std::thread::sleep(params.pause);
    }
    let machine_before = MachineCpu::now();
    let client_params = params.clone();
    let client = std::thread::Builder::new()
        .name("client".into())
        .spawn(move || client(addr, &client_params, pin))?;
    // On a client error the server may still be waiting for connections:
    // leave its thread behind rather than wait for it.
    let client = join(client)?;
    let server = join(server)?;
    let others_busy = machine_before.and_then(|m| m.others_busy_since());
    Ok(Report {
        mode,
        requests: client.requests,
        elapsed: client.elapsed,
        client_cpu: client.cpu,
        p50: client.latency.percentile(0.50),
        p99: client.latency.percentile(0.99),
        server_requests: server.bytes / params.size as u64,
        server: server.window,
        server_cpu: server.cpu,
        server_wall: server.wall,
        server_total: server.total,
        server_tid: tid,
        others_busy,
    })
}

fn join<T>(handle: std::thread::JoinHandle<io::Result<T>>) -> io::Result<T> {
    handle
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("a load thread panicked")))
}

/// Prints the table of `reports`, one row per run.
pub fn print_table(reports: &[Report]) {
    println!(
        "{:<12} {:>8} {:>12} {:>14} {:>10} {:>8} {:>8} {:>12} {:>9} {:>9}",
        "driver",
        "req/s",
        "syscalls/req",
        "enter|wait/req",
        "CQEs/enter",
        "p50",
        "p99",
        "srv CPU/req",
        "srv busy",
        "cli busy"
    );
    for r in reports {
        println!(
            "{:<12} {:>8.0} {:>12.2} {:>14.3} {:>10} {:>8} {:>8} {:>12} {:>8.0}% {:>8.0}%",
            r.mode.name(),
            r.requests_per_sec(),
            r.syscalls_per_request(),
            r.waits_per_request(),
            r.cqes_per_enter()
                .map_or("-".to_string(), |c| format!("{c:.1}")),
            micros(r.p50),
            micros(r.p99),
            format!("{:.2} µs", r.server_cpu_per_request().as_secs_f64() * 1e6),
            r.server_busy() * 100.0,
            r.client_busy() * 100.0,
        );
    }
}

/// What the server's counters say per request, one line per run.
pub fn print_server_counters(reports: &[Report]) {
    for r in reports {
        let s = &r.server;
        let per = |n: u64| n as f64 / r.server_requests.max(1) as f64;
        if r.mode.is_uring() {
            println!(
                "  {:<12} {} requests: {:.2} SQEs, {:.3} io_uring_enter ({:.3} waited), {:.2} CQEs per request",
                r.mode.name(),
                r.server_requests,
                per(s.ops_submitted),
                per(s.enters),
                per(s.waits),
                per(s.cqes_reaped),
            );
        } else {
            println!(
                "  {:<12} {} requests: {:.2} syscalls run by tasks ({:.2} EAGAIN), {:.3} epoll_wait, {:.4} epoll_ctl per request",
                r.mode.name(),
                r.server_requests,
                per(s.attempts),
                per(s.eagain_retries),
                per(s.epoll_waits),
                per(s.epoll_ctls),
            );
        }
    }
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// The server's counters over its whole life (runtime built → dropped
/// excluded: setup, accepts and the echo), to hold against `strace`.
pub fn print_server_totals(reports: &[Report]) {
    for r in reports {
        let s = &r.server_total;
        println!(
            "  {:<12} thread {}: {} I/O syscalls = {} io_uring_enter + {} epoll_wait + {} epoll_ctl + {} run by ops ({} EAGAIN); {} ops, {} CQEs",
            r.mode.name(),
            r.server_tid,
            s.io_syscalls(),
            s.enters,
            s.epoll_waits,
            s.epoll_ctls,
            s.attempts,
            s.eagain_retries,
            s.ops_submitted,
            s.cqes_reaped,
        );
    }
}

/// Prints a warning for each run during which other processes kept the
/// machine's CPUs more than 5 % busy.
pub fn print_noise(reports: &[Report]) {
    for r in reports {
        if let Some(others) = r.others_busy.filter(|&o| o > 0.05) {
            println!(
                "  note: other processes used {:.0}% of the machine's CPUs during the {} run",
                others * 100.0,
                r.mode.name()
            );
        }
    }
}

/// The machine's busy time and this process's CPU time, at one instant.
struct MachineCpu {
    at: Instant,
    /// user + nice + system jiffies of all CPUs (`/proc/stat`).
    busy_ticks: u64,
    own: Duration,
}

impl MachineCpu {
    fn now() -> Option<MachineCpu> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let fields: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        // SAFETY: `usage` is a live rusage the call fills in.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut usage);
            usage
        };
        Some(MachineCpu {
            at: Instant::now(),
            busy_ticks: fields.iter().take(3).sum(),
            own: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        })
    }

    fn others_busy_since(&self) -> Option<f64> {
        let now = MachineCpu::now()?;
        // SAFETY: sysconf has no memory effects.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let busy = (now.busy_ticks - self.busy_ticks) as f64 / hz;
        let own = (now.own - self.own).as_secs_f64();
        let wall = (now.at - self.at).as_secs_f64() * cpus() as f64;
        Some(((busy - own) / wall).max(0.0))
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000)
}

/// Number of CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Pins the calling thread to `cpu` (best effort).
fn pin_to(cpu: usize) {
    // SAFETY: `set` is a plain bitmask on the stack; sched_setaffinity only
    // reads it. Failure (a CPU outside our cpuset) leaves the thread as is.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// CPU time (user + system) the calling thread has used.
fn thread_cpu_time() -> Duration {
    // SAFETY: `usage` is a live rusage the call fills in.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
        usage
    };
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

fn gettid() -> i32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::gettid() }
}

// ---------------------------------------------------------------- server

struct ServerOut {
    window: Stats,
    cpu: Duration,
    wall: Duration,
    total: Stats,
    bytes: u64,
}

fn serve(
    mode: Mode,
    params: &Params,
    pin: bool,
    ready: mpsc::Sender<(SocketAddr, i32)>,
) -> io::Result<ServerOut> {
    if pin {
        pin_to(0);
    }
    let rt = mode.builder().build()?;
    let connections = params.connections;
    let buf_len = params.size.clamp(4096, 1 << 20);
    let (window, cpu, wall, bytes) = rt.block_on(async move {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let _ = ready.send((listener.local_addr()?, gettid()));
        let echoed = Rc::new(Cell::new(0u64));
        let mut tasks = Vec::with_capacity(connections);
        for _ in 0..connections {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tasks.push(ringloop::spawn(echo(stream, buf_len, Rc::clone(&echoed))));
        }
        let (before, echoed_before) = (ringloop::stats(), echoed.get());
        let (cpu_before, started) = (thread_cpu_time(), Instant::now());
        for task in tasks {
            task.await.map_err(io::Error::other)??;
        }
        let window = ringloop::stats().since(&before);
        let cpu = thread_cpu_time().saturating_sub(cpu_before);
        Ok::<_, io::Error>((window, cpu, started.elapsed(), echoed.get() - echoed_before))
    })?;
    Ok(ServerOut {
        window,
        cpu,
        wall,
        total: rt.stats(),
        bytes,
    })
}

/// `read` → `write_all` the same bytes, until EOF.
async fn echo(stream: TcpStream, buf_len: usize, echoed: Rc<Cell<u64>>) -> io::Result<()> {
    let mut buf = vec![0u8; buf_len];
    loop {
        let (res, b) = stream.read(buf).await;
        let n = res?;
        if n == 0 {
            return Ok(());
        }
        let (res, b) = stream.write_all(b.slice(..n)).await;
        res?;
        buf = b.into_inner();
        echoed.set(echoed.get() + n as u64);
    }
}

// ---------------------------------------------------------------- client

struct ClientOut {
    requests: u64,
    elapsed: Duration,
    cpu: Duration,
    latency: Histogram,
}

fn client(addr: SocketAddr, params: &Params, pin: bool) -> io::Result<ClientOut> {
    if pin {
        pin_to(1);
    }
    // The client is always io_uring (its costs are not what is measured);
    // where io_uring is unavailable it runs on whatever Auto gives.
    let rt = match Builder::new().driver(Driver::Uring).build() {
        Ok(rt) => rt,
        Err(_) => Builder::new().build()?,
    };
    let params = params.clone();
    rt.block_on(async move {
        let mut streams = Vec::with_capacity(params.connections);
        for _ in 0..params.connections {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            streams.push(stream);
        }
        let latency = Rc::new(RefCell::new(Histogram::new()));
        let (start, cpu_before) = (Instant::now(), thread_cpu_time());
        let deadline = start + params.duration;
        let mut tasks = Vec::with_capacity(streams.len());
        for stream in streams {
            tasks.push(ringloop::spawn(connection(
                stream,
                params.clone(),
                deadline,
                Rc::clone(&latency),
            )));
        }
        let mut requests = 0;
        for task in tasks {
            requests += task.await.map_err(io::Error::other)??;
        }
        let (elapsed, cpu) = (
            start.elapsed(),
            thread_cpu_time().saturating_sub(cpu_before),
        );
        let latency = latency.take();
        Ok(ClientOut {
            requests,
            elapsed,
            cpu,
            latency,
        })
    })
}

/// The requests of one connection in flight, shared by its writer and reader.
#[derive(Default)]
struct Window {
    /// When each request in flight was sent, oldest first.
    sent_at: VecDeque<Instant>,
    /// Replies received that the writer has not yet replaced.
    credits: usize,
    /// The writer, waiting for credits.
    writer: Option<Waker>,
    /// The reader is done (EOF or error): no more replies will come.
    closed: bool,
}

/// One connection: a writer task keeps `depth` requests in flight, this
/// task reads replies. Returns the number of replies.
async fn connection(
    stream: TcpStream,
    params: Params,
    deadline: Instant,
    latency: Rc<RefCell<Histogram>>,
) -> io::Result<u64> {
    let (reader, writer) = stream.into_split();
    let window = Rc::new(RefCell::new(Window {
        credits: params.depth,
        ..Window::default()
    }));
    let writer = ringloop::spawn(send_requests(
        writer,
        params.clone(),
        deadline,
        Rc::clone(&window),
    ));
    let replies = read_replies(reader, params.size, &window, &latency).await;
    {
        let mut w = window.borrow_mut();
        w.closed = true;
        if let Some(writer) = w.writer.take() {
            writer.wake();
        }
    }
    let sent = writer.await.map_err(io::Error::other)?;
    sent?;
    replies
}

async fn send_requests(
    writer: OwnedWriteHalf,
    params: Params,
    deadline: Instant,
    window: Rc<RefCell<Window>>,
) -> io::Result<()> {
    let size = params.size;
    let mut payload: Vec<u8> = (0..size * params.depth).map(|i| i as u8).collect();
    let mut sent = 0u64;
    loop {
        // Wait for replies to replace (`depth` credits at the start).
        let credits = poll_fn(|cx| {
            let mut w = window.borrow_mut();
            if w.credits > 0 || w.closed {
                Poll::Ready(std::mem::take(&mut w.credits))
            } else {
                w.writer = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        let mut n = credits as u64;
        if window.borrow().closed {
            n = 0;
        } else if let Some(limit) = params.requests {
            n = n.min(limit - sent);
        } else if Instant::now() >= deadline {
            n = 0;
        }
        if n == 0 {
            break;
        }
        let now = Instant::now();
        window
            .borrow_mut()
            .sent_at
            .extend(std::iter::repeat_n(now, n as usize));
        let (res, buf) = writer.write_all(payload.slice(..n as usize * size)).await;
        payload = buf.into_inner();
        res?;
        sent += n;
    }
    // Done: wait for the replies still due, then shut down our side (by
    // dropping the half) so the server reads EOF and closes.
    poll_fn(|cx| {
        let mut w = window.borrow_mut();
        if w.sent_at.is_empty() || w.closed {
            Poll::Ready(())
        } else {
            w.writer = Some(cx.waker().clone());
            Poll::Pending
        }
    })
    .await;
    drop(writer);
    Ok(())
}

async fn read_replies(
    reader: OwnedReadHalf,
    size: usize,
    window: &RefCell<Window>,
    latency: &RefCell<Histogram>,
) -> io::Result<u64> {
    let mut buf = vec![0u8; (size * 64).clamp(4096, 1 << 20)];
    let (mut bytes, mut replies) = (0u64, 0u64);
    loop {
        let (res, b) = reader.read(buf).await;
        buf = b;
        let n = res?;
        if n == 0 {
            return Ok(replies);
        }
        bytes += n as u64;
        let complete = bytes / size as u64;
        if complete > replies {
            let now = Instant::now();
            let mut w = window.borrow_mut();
            let mut latency = latency.borrow_mut();
            for _ in replies..complete {
                let sent = w.sent_at.pop_front().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "a reply nobody asked for")
                })?;
                latency.record(now - sent);
            }
            w.credits += (complete - replies) as usize;
            if let Some(writer) = w.writer.take() {
                writer.wake();
            }
            replies = complete;
        }
    }
}

// ------------------------------------------------------------- histogram

/// Latencies in nanoseconds, log-linear: exact below 128 ns, then 64
/// buckets per power of two (under 1.6 % error).
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram::new()
    }
}

impl Histogram {
    const SUB: u32 = 6;

    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; (64 - Self::SUB as usize + 1) << Self::SUB],
            total: 0,
        }
    }

    fn index(ns: u64) -> usize {
        if ns < 2 << Self::SUB {
            return ns as usize;
        }
        let shift = 63 - ns.leading_zeros() - Self::SUB;
        (((shift + 1) << Self::SUB) as u64 + ((ns >> shift) & ((1 << Self::SUB) - 1))) as usize
    }

    /// The middle of bucket `index`, in nanoseconds.
    fn value(index: usize) -> u64 {
        let q = (index >> Self::SUB) as u32;
        if q <= 1 {
            return index as u64;
        }
        let shift = q - 1;
        let low = ((1u64 << Self::SUB) | (index as u64 & ((1 << Self::SUB) - 1))) << shift;
        low + (1 << shift) / 2
    }

    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::index(ns)] += 1;
        self.total += 1;
    }

    /// The `q` quantile (0.5 = median); zero if nothing was recorded.
    pub fn percentile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_nanos(Self::value(i));
            }
        }
        unreachable!("rank <= total")
    }
}
