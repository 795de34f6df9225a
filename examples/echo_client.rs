//! Echo load generator built on ringloop: many connections, pipelined
//! messages, throughput and latency percentiles.
//!
//! ```text
//! cargo run --release --example echo_client -- 127.0.0.1:7000 \
//!     --connections 64 --size 64 --depth 1 --duration 10 [--rate 50000] [--warmup 1]
//!     [--tick-us 100] [--http]
//! ```
//!
//! With `--http` a message is an HTTP/1.1 `GET /` (keep-alive) and a reply
//! is one response, counted by its headers and `Content-Length` body — the
//! load of `examples/http.rs` (or any HTTP server) instead of an echo;
//! `--size` is then ignored.
//!
//! * Closed loop (default): each connection keeps `--depth` messages in
//!   flight; as echoes complete, the same number of new messages goes out
//!   in one send.
//! * Open loop (`--rate R`, messages per second over all connections): each
//!   connection sends on a fixed schedule whatever the server does, and a
//!   message's latency runs from when it was *due*, so a stalled server
//!   cannot hide its stall (no coordinated omission). Sends are grouped on
//!   a `--tick-us` grid (100 µs) so one loop turn serves many connections.
//!
//! Replies are received by one multishot receive per connection over a
//! shared buffer ring, and every connection runs on one thread: CQEs of all
//! connections are reaped in batches by one `io_uring_enter`, which is why
//! this client costs less CPU per message than an epoll client (pin it to
//! its own CPU: `taskset -c 1`).

use ringloop::buf::{BufRing, IoBuf};
use ringloop::net::{OwnedReadHalf, OwnedWriteHalf, TcpStream};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

struct Args {
    addr: String,
    connections: usize,
    size: usize,
    depth: usize,
    duration: Duration,
    warmup: Duration,
    rate: Option<f64>,
    tick: Duration,
    http: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        addr: String::new(),
        connections: 64,
        size: 64,
        depth: 1,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(1),
        rate: None,
        tick: Duration::from_micros(100),
        http: false,
    };
    fn num<T: std::str::FromStr>(name: &str, v: Option<String>) -> Result<T, String> {
        v.ok_or(format!("{name} needs a value"))?
            .parse()
            .map_err(|_| format!("{name}: not a number"))
    }
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--connections" | "-c" => parsed.connections = num(&arg, args.next())?,
            "--size" => parsed.size = num(&arg, args.next())?,
            "--depth" => parsed.depth = num(&arg, args.next())?,
            "--duration" | "-d" => {
                parsed.duration = Duration::from_secs_f64(num(&arg, args.next())?)
            }
            "--warmup" => parsed.warmup = Duration::from_secs_f64(num(&arg, args.next())?),
            "--rate" => parsed.rate = Some(num(&arg, args.next())?),
            "--tick-us" => parsed.tick = Duration::from_micros(num(&arg, args.next())?),
            "--http" => parsed.http = true,
            addr if !addr.starts_with('-') && parsed.addr.is_empty() => parsed.addr = addr.into(),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    if parsed.addr.is_empty() {
        return Err(
            "usage: echo_client ADDR [--connections N] [--size BYTES] [--depth N] \
                    [--duration SECS] [--warmup SECS] [--rate MSGS_PER_SEC] [--tick-us US] \
                    [--http]"
                .into(),
        );
    }
    if parsed.connections == 0 || parsed.size == 0 || parsed.depth == 0 {
        return Err("--connections, --size and --depth must be positive".into());
    }
    Ok(parsed)
}

/// Log-linear histogram of nanoseconds (HdrHistogram-style): 32 sub-buckets
/// per power of two, so a value is kept within ~3%.
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

const SUB_BITS: u32 = 5;

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: vec![0; (64 << SUB_BITS) as usize],
            total: 0,
            max: 0,
        }
    }

    fn index(v: u64) -> usize {
        if v < (1 << SUB_BITS) {
            return v as usize;
        }
        let exp = 63 - v.leading_zeros(); // >= SUB_BITS
        let sub = (v >> (exp - SUB_BITS)) & ((1 << SUB_BITS) - 1);
        (((exp - SUB_BITS + 1) << SUB_BITS) as u64 + sub) as usize
    }

    /// The highest value of bucket `i`.
    fn value(i: usize) -> u64 {
        let i = i as u64;
        if i < (1 << SUB_BITS) {
            return i;
        }
        let exp = (i >> SUB_BITS) + u64::from(SUB_BITS) - 1;
        let sub = i & ((1 << SUB_BITS) - 1);
        ((1 << SUB_BITS | sub) << (exp - u64::from(SUB_BITS))) + (1 << (exp - u64::from(SUB_BITS)))
            - 1
    }

    fn record(&mut self, d: Duration) {
        let v = d.as_nanos().min(u128::from(u64::MAX >> 1)) as u64;
        self.counts[Self::index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    fn percentile(&self, p: f64) -> Duration {
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_nanos(Self::value(i).min(self.max));
            }
        }
        Duration::from_nanos(self.max)
    }
}

/// What a connection's writer and reader share.
struct Shared {
    /// When each message in flight was sent (or, open loop, was due).
    sent: VecDeque<Instant>,
    /// Closed loop: messages the writer may send now.
    credits: usize,
    writer: Option<Waker>,
}

struct Run {
    /// One message: `size` bytes of `x`, or an HTTP request.
    message: Vec<u8>,
    size: usize,
    /// Replies are HTTP responses, not echoes.
    http: bool,
    depth: usize,
    start: Instant,
    measure_from: Instant,
    end: Instant,
    /// Open loop: sends are grouped on this grid.
    tick: Duration,
    hist: RefCell<Histogram>,
    messages: std::cell::Cell<u64>,
}

fn main() -> io::Result<()> {
    let args = parse_args().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let rt = ringloop::Runtime::new()?;
    rt.block_on(async {
        let mut streams = Vec::with_capacity(args.connections);
        for _ in 0..args.connections {
            let stream = TcpStream::connect(args.addr.as_str()).await?;
            stream.set_nodelay(true)?;
            streams.push(stream);
        }
        let ring = BufRing::new(1024, 4096)?;
        let start = Instant::now();
        let message = if args.http {
            format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", args.addr).into_bytes()
        } else {
            vec![b'x'; args.size]
        };
        let run = Rc::new(Run {
            size: message.len(),
            message,
            http: args.http,
            depth: args.depth,
            start,
            measure_from: start + args.warmup,
            end: start + args.warmup + args.duration,
            tick: args.tick,
            hist: RefCell::new(Histogram::new()),
            messages: std::cell::Cell::new(0),
        });
        let stats_before = ringloop::stats();
        let per_conn_rate = args.rate.map(|r| r / args.connections as f64);
        let mut tasks = Vec::new();
        for (i, stream) in streams.into_iter().enumerate() {
            let (rd, wr) = stream.into_split();
            let shared = Rc::new(RefCell::new(Shared {
                sent: VecDeque::new(),
                credits: args.depth,
                writer: None,
            }));
            // Stagger open-loop connections across one period.
            let offset = per_conn_rate
                .map(|r| Duration::from_secs_f64(i as f64 / args.connections as f64 / r));
            tasks.push(ringloop::spawn(writer(
                wr,
                Rc::clone(&shared),
                Rc::clone(&run),
                per_conn_rate,
                offset,
            )));
            tasks.push(ringloop::spawn(reader(
                rd,
                shared,
                Rc::clone(&run),
                ring.clone(),
            )));
        }
        for t in tasks {
            t.await.map_err(io::Error::other)??;
        }
        let stats = ringloop::stats();
        let secs = args.duration.as_secs_f64();
        let hist = run.hist.borrow();
        let msgs = run.messages.get();
        println!(
            "{} connections, {} B {}, {}, {:.1} s measured",
            args.connections,
            run.size,
            if args.http {
                "HTTP requests"
            } else {
                "messages"
            },
            match args.rate {
                Some(r) => format!("open loop at {r:.0} msg/s"),
                None => format!("closed loop, depth {}", args.depth),
            },
            secs
        );
        println!(
            "throughput: {:.0} msg/s, {:.2} MiB/s each way",
            msgs as f64 / secs,
            (msgs * args.size as u64) as f64 / secs / (1 << 20) as f64
        );
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "latency (us): p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
            us(hist.percentile(50.0)),
            us(hist.percentile(90.0)),
            us(hist.percentile(99.0)),
            us(hist.percentile(99.9)),
            us(Duration::from_nanos(hist.max))
        );
        let enters = stats.enters - stats_before.enters;
        let total = hist.total.max(1);
        println!(
            "client: {enters} io_uring_enter calls ({:.3} per message, warm-up included)",
            enters as f64 / total as f64
        );
        Ok(())
    })
}

/// Sends messages: on credits (closed loop) or on schedule (open loop).
async fn writer(
    wr: OwnedWriteHalf,
    shared: Rc<RefCell<Shared>>,
    run: Rc<Run>,
    rate: Option<f64>,
    offset: Option<Duration>,
) -> io::Result<()> {
    let max_batch = run.depth.max(64);
    let mut buf = run.message.repeat(max_batch);
    let interval = rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let mut next_due = run.start + offset.unwrap_or_default();
    while Instant::now() < run.end {
        let batch = match interval {
            Some(interval) => {
                // Wake on a grid shared by every connection, so one loop
                // turn sends for many of them; latency still counts from
                // the message's own due time.
                ringloop::time::sleep_until(on_grid(next_due, run.start, run.tick)).await;
                let mut due = Vec::new();
                let now = Instant::now();
                while next_due <= now && due.len() < max_batch {
                    due.push(next_due);
                    next_due += interval;
                }
                shared.borrow_mut().sent.extend(&due);
                due.len()
            }
            None => {
                let n = poll_fn(|cx| {
                    let mut s = shared.borrow_mut();
                    if s.credits == 0 {
                        s.writer = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                    Poll::Ready(std::mem::take(&mut s.credits).min(max_batch))
                })
                .await;
                let now = Instant::now();
                shared.borrow_mut().sent.extend(std::iter::repeat_n(now, n));
                n
            }
        };
        if batch == 0 {
            continue;
        }
        let (res, b) = wr.write_all(buf.slice(..batch * run.size)).await;
        buf = b.into_inner();
        res?;
    }
    Ok(())
    // Dropping `wr` shuts down writing: the server closes, the reader ends.
}

/// The first instant of the `tick` grid from `start` at or after `t`.
fn on_grid(t: Instant, start: Instant, tick: Duration) -> Instant {
    let since = t.saturating_duration_since(start).as_nanos();
    let tick_ns = tick.as_nanos().max(1);
    let ticks = since.div_ceil(tick_ns);
    start + Duration::from_nanos((ticks * tick_ns).min(u128::from(u64::MAX)) as u64)
}

/// Counts echoed bytes into messages and records their latency.
async fn reader(
    rd: OwnedReadHalf,
    shared: Rc<RefCell<Shared>>,
    run: Rc<Run>,
    ring: BufRing,
) -> io::Result<()> {
    let mut chunks = rd.recv_multishot(&ring);
    let mut partial = 0;
    let mut responses = Responses::default();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        let done = if run.http {
            responses.feed(&chunk)?
        } else {
            partial += chunk.len();
            let done = partial / run.size;
            partial %= run.size;
            done
        };
        drop(chunk);
        if done == 0 {
            continue;
        }
        let now = Instant::now();
        let mut s = shared.borrow_mut();
        for _ in 0..done {
            let Some(sent) = s.sent.pop_front() else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "more bytes echoed than sent",
                ));
            };
            if sent >= run.measure_from && now <= run.end {
                run.hist.borrow_mut().record(now - sent);
                run.messages.set(run.messages.get() + 1);
            }
        }
        s.credits += done;
        if let Some(w) = s.writer.take() {
            w.wake();
        }
    }
    Ok(())
}

/// Counts complete HTTP/1.1 responses in a byte stream: headers up to the
/// empty line, then `Content-Length` bytes of body.
#[derive(Default)]
struct Responses {
    /// Header bytes of the response being read (until the empty line).
    head: Vec<u8>,
    /// Body bytes still to skip.
    body_left: usize,
}

impl Responses {
    /// Feeds the next bytes; returns how many responses they completed.
    fn feed(&mut self, mut bytes: &[u8]) -> io::Result<usize> {
        let mut done = 0;
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                self.body_left -= n;
                bytes = &bytes[n..];
                if self.body_left == 0 {
                    done += 1;
                }
                continue;
            }
            // In the headers: look for the end, "\r\n\r\n", which may
            // straddle the previous bytes.
            let from = self.head.len().saturating_sub(3);
            self.head.extend_from_slice(bytes);
            let Some(end) = self.head[from..]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|p| from + p + 4)
            else {
                if self.head.len() > 64 * 1024 {
                    return Err(invalid("HTTP response headers over 64 KiB"));
                }
                return Ok(done);
            };
            let consumed = end - (self.head.len() - bytes.len());
            bytes = &bytes[consumed..];
            let len = content_length(&self.head[..end])?;
            self.head.clear();
            if len == 0 {
                done += 1;
            } else {
                self.body_left = len;
            }
        }
        Ok(done)
    }
}

/// The `Content-Length` of a response's headers (0 if absent).
fn content_length(head: &[u8]) -> io::Result<usize> {
    let head = std::str::from_utf8(head).map_err(|_| invalid("HTTP headers not UTF-8"))?;
    if !head.starts_with("HTTP/1.") {
        return Err(invalid("not an HTTP/1 response"));
    }
    for line in head.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                return value
                    .trim()
                    .parse()
                    .map_err(|_| invalid("bad Content-Length"));
            }
        }
    }
    Ok(0)
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::{Histogram, Responses};

    #[test]
    fn responses_are_counted_across_any_split() {
        let one: &[u8] =
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nHello world!";
        let stream = [one, one, one].concat();
        for split in 0..stream.len() {
            let mut r = Responses::default();
            let a = r.feed(&stream[..split]).unwrap();
            let b = r.feed(&stream[split..]).unwrap();
            assert_eq!(a + b, 3, "split at {split}");
        }
        let mut r = Responses::default();
        let total: usize = stream.iter().map(|b| r.feed(&[*b]).unwrap()).sum();
        assert_eq!(total, 3);
        let empty = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(Responses::default().feed(empty).unwrap(), 1);
        assert!(Responses::default().feed(b"garbage\r\n\r\n").is_err());
    }

    #[test]
    fn a_value_lands_in_a_bucket_within_3_percent() {
        for v in [0u64, 1, 31, 32, 33, 64, 65, 1000, 123_456, 10_000_000_000] {
            let top = Histogram::value(Histogram::index(v));
            assert!(top >= v && top <= v + v / 32 + 1, "{v} -> {top}");
        }
    }
}
