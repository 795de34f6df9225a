//! A guided tour of the completion model: where does the asynchronicity
//! kick in?
//!
//! Three tasks run on one thread and one io_uring: one sleeps, one awaits
//! NOPs, one waits for a result computed on another thread. Every line
//! between the headers is printed by the runtime's own event hook
//! (`Builder::on_event`) at the moment it happens: a task polled, an SQE
//! pushed under its key, each `io_uring_enter` (what it submits, what it
//! waits for), each CQE reaped and the task it wakes.
//!
//! Act 2 puts the same small TCP echo on both I/O drivers. First one
//! exchange, traced: on epoll (readiness) a task runs each syscall itself,
//! registers interest when it says `EAGAIN`, and `epoll_wait` says when to
//! try again; on io_uring (completion) the SQE carries the whole operation,
//! one `io_uring_enter` submits and waits, the CQE carries the result.
//! Then a short load on each driver (`support/load.rs`, shared with
//! `examples/compare.rs`), with a table made from the runtimes' counters
//! and the client's clocks.
//!
//! ```text
//! cargo run --release --example tour
//! ```

#[path = "support/load.rs"]
mod load;

use ringloop::buf::IoBuf;
use ringloop::net::{TcpListener, TcpStream};
use ringloop::trace::{Event, TaskId};
use ringloop::{spawn, spawn_blocking, time, Builder, Driver};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    println!("ringloop tour — the completion model, step by step");
    println!("===================================================\n");
    let start = Instant::now();
    let rt = Builder::new()
        .on_event(move |event| print_event(start, event))
        .build()?;
    println!("ring set up with {:?}\n", rt.setup_flags());
    println!("Act 1: three tasks, one thread, one ring");
    println!("----------------------------------------");
    println!("(time since start | who | what)\n");

    let results = rt.block_on(async {
        let sleeper = spawn(async {
            time::sleep(Duration::from_millis(3)).await;
            "slept 3 ms: no SQE, the loop's one wait carried the deadline"
        });
        let noper = spawn(async {
            for _ in 0..3 {
                ringloop::nop().await.expect("nop");
            }
            "3 NOPs: one SQE each, completed by the kernel, woke this task"
        });
        let remote = spawn(async {
            let answer = spawn_blocking(|| {
                std::thread::sleep(Duration::from_millis(1));
                42
            })
            .await
            .expect("blocking job");
            if answer == 42 {
                "42 from another thread: its wake went through the remote queue"
            } else {
                "unexpected answer"
            }
        });
        [
            sleeper.await.expect("sleeper"),
            noper.await.expect("noper"),
            remote.await.expect("remote"),
        ]
    });

    println!("\nWhat the tasks got back");
    println!("----------------------");
    for line in results {
        println!("  {line}");
    }

    let stats = rt.stats();
    println!("\nShutdown: dropping the runtime cancels what is in flight and drains");
    println!("------------------------------------------------------------------");
    drop(rt);
    println!("\nThe runtime's counters (ringloop::Stats)");
    println!("----------------------------------------");
    print!("{stats}");
    println!(
        "\n{} ops cost {} io_uring_enter calls; the loop slept {} times.",
        stats.ops_submitted, stats.enters, stats.parks
    );
    println!(
        "Where the asynchronicity kicks in: a task pushes an SQE and returns Pending;\n\
         the kernel does the work while the task is parked; one io_uring_enter both\n\
         submits and waits; the CQE's key finds the task and wakes it."
    );
    act_two()
}

/// Act 2: one echo exchange traced on each driver, then a load on each.
fn act_two() -> std::io::Result<()> {
    println!("\n\nAct 2: the same TCP echo on both models");
    println!("======================================");
    println!("A server task accepts one connection on 127.0.0.1 and echoes one message;");
    println!("a client task connects, sends \"ping\" and reads the reply. Same code, two drivers.");
    // Where io_uring is forbidden (seccomp, io_uring_disabled) show epoll alone.
    let uring = match Builder::new().driver(Driver::Uring).build() {
        Ok(_) => true,
        Err(e) => {
            println!("\n(io_uring is unavailable here: {e}; only epoll is shown)");
            false
        }
    };
    let drivers = [
        (Driver::Epoll, "readiness (epoll)"),
        (Driver::Uring, "completion (io_uring)"),
    ];
    for (driver, title) in drivers
        .into_iter()
        .filter(|(d, _)| uring || *d == Driver::Epoll)
    {
        let header = format!("\n{title}: the runtime's events");
        println!("{header}\n{}", "-".repeat(header.len() - 1));
        let start = Instant::now();
        let rt = Builder::new()
            .driver(driver)
            .on_event(move |event| print_event(start, event))
            .build()?;
        let reply = rt.block_on(echo_once())?;
        let stats = rt.stats();
        println!("(the runtime is dropped)");
        drop(rt);
        println!(
            "client got back {:?}; before the drop, {} I/O syscalls (Stats::io_syscalls): {}",
            String::from_utf8_lossy(&reply),
            stats.io_syscalls(),
            match driver {
                Driver::Epoll => format!(
                    "{} epoll_wait, {} epoll_ctl, {} run by tasks ({} EAGAIN)",
                    stats.epoll_waits, stats.epoll_ctls, stats.attempts, stats.eagain_retries
                ),
                _ => format!(
                    "{} io_uring_enter for {} SQEs and {} CQEs",
                    stats.enters, stats.ops_submitted, stats.cqes_reaped
                ),
            }
        );
    }

    let params = load::Params::default();
    println!("\nThe same echo under load");
    println!("------------------------");
    println!(
        "{} connections, {} B requests, {} in flight per connection, {:?} per driver;\n\
         server: one thread on the driver under test; client: another thread on io_uring.\n",
        params.connections, params.size, params.depth, params.duration
    );
    let mut reports = Vec::new();
    if uring {
        reports.push(load::run(load::Mode::Uring, &params)?);
    }
    reports.push(load::run(load::Mode::Epoll, &params)?);
    load::print_table(&reports);
    println!("\nserver counters per request (ringloop::Stats):");
    load::print_server_counters(&reports);
    load::print_noise(&reports);
    println!("\nMore drivers and parameters: cargo run --release --example compare -- --help");
    Ok(())
}

/// One echo: a server task accepts and echoes one message, a client task
/// sends "ping" and reads the reply, which is returned.
async fn echo_once() -> std::io::Result<Vec<u8>> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let server = spawn(async move {
        let (stream, _) = listener.accept().await?;
        let (res, buf) = stream.read(vec![0u8; 64]).await;
        let n = res?;
        let (res, _) = stream.write_all(buf.slice(..n)).await;
        res
    });
    let client = spawn(async move {
        let stream = TcpStream::connect(addr).await?;
        let (res, _) = stream.write_all(b"ping" as &'static [u8]).await;
        res?;
        let (res, mut buf) = stream.read(vec![0u8; 64]).await;
        buf.truncate(res?);
        Ok::<_, std::io::Error>(buf)
    });
    let reply = client.await.map_err(std::io::Error::other)??;
    server.await.map_err(std::io::Error::other)??;
    Ok(reply)
}

fn print_event(start: Instant, event: &Event) {
    let t = start.elapsed();
    let stamp = format!("{:>9.3} ms", t.as_secs_f64() * 1e3);
    let line = match *event {
        Event::TaskSpawned { task } => format!("{:<8} spawned", who(task)),
        Event::TaskPoll { task } => format!("{:<8} polled", who(task)),
        Event::TaskPolled { task, ready } => format!(
            "{:<8} → {}",
            who(task),
            if ready {
                "Ready (finished)"
            } else {
                "Pending (parked)"
            }
        ),
        Event::SqePushed {
            task,
            user_data,
            op,
        } => format!(
            "{:<8}   pushed SQE {op:<5} key {} (slot {}, generation {})",
            who(task),
            key(user_data),
            user_data & 0xffff_ffff,
            user_data >> 32
        ),
        Event::Enter {
            to_submit,
            min_complete,
            timeout,
        } => format!(
            "{:<8} io_uring_enter(submit {to_submit}, wait for {min_complete}{})",
            "loop",
            match timeout {
                Some(t) if min_complete > 0 => format!(", at most {:.3} ms", t.as_secs_f64() * 1e3),
                _ => String::new(),
            }
        ),
        Event::EnterReturned { result, elapsed } => format!(
            "{:<8}   ← returned {result} after {:.3} ms{}",
            "loop",
            elapsed.as_secs_f64() * 1e3,
            if result < 0 {
                format!(" ({})", std::io::Error::from_raw_os_error(-result as i32))
            } else {
                String::new()
            }
        ),
        Event::CqeReaped {
            user_data,
            result,
            task,
            ..
        } => format!(
            "{:<8}   CQE key {} res {result} → for {}",
            "loop",
            key(user_data),
            task.map_or("nobody (stale)".to_string(), who)
        ),
        Event::WakeupCqe { result } if result >= 0 => format!(
            "{:<8}   CQE of the eventfd read: another thread woke us",
            "loop"
        ),
        Event::WakeupCqe { result } => format!(
            "{:<8}   CQE of the eventfd read, res {result}: cancelled by the drain",
            "loop"
        ),
        Event::TaskWoken { task, remote } => format!(
            "{:<8} woken {}",
            who(task),
            if remote {
                "from another thread (remote queue)"
            } else {
                "on this thread (local queue)"
            }
        ),
        Event::TimersFired { count } => format!("{:<8} {count} timer(s) expired", "loop"),
        Event::Attempt { task, op, result } => format!(
            "{:<8}   ran {op}() itself → {result}{}",
            who(task),
            match (op, -result) {
                // The connect op reports its EINPROGRESS as EAGAIN; its retry
                // reads SO_ERROR.
                ("connect", libc::EAGAIN) => " (EINPROGRESS: wait until writable)".to_string(),
                _ => errno_name(result),
            }
        ),
        Event::EpollCtl { fd } => format!(
            "{:<8}   epoll_ctl(ADD, fd {fd}): tell me when it is ready",
            ""
        ),
        Event::EpollWait { timeout } => format!(
            "{:<8} epoll_wait({})",
            "loop",
            match timeout {
                None => "sleep until a descriptor is ready".to_string(),
                Some(t) if t.is_zero() => "just poll".to_string(),
                Some(t) => format!("at most {:.3} ms", t.as_secs_f64() * 1e3),
            }
        ),
        Event::EpollReturned { events } => {
            format!("{:<8}   ← {events} descriptor(s) ready", "loop")
        }
        _ => format!("{event:?}"),
    };
    println!("{stamp} | {line}");
}

fn who(task: TaskId) -> String {
    task.to_string()
}

/// ` (EAGAIN: not ready)` for the errnos an echo meets; empty for counts.
fn errno_name(result: i32) -> String {
    let name = match -result {
        e if e <= 0 => return String::new(),
        libc::EAGAIN => "EAGAIN: not ready, wait for readiness",
        libc::EINPROGRESS => "EINPROGRESS: handshake under way",
        libc::ECANCELED => "ECANCELED",
        _ => return format!(" ({})", std::io::Error::from_raw_os_error(-result)),
    };
    format!(" ({name})")
}

fn key(user_data: u64) -> String {
    format!("{user_data:#x}")
}
