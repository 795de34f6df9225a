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
//! ```text
//! cargo run --release --example tour
//! ```

use ringloop::trace::{Event, TaskId};
use ringloop::{spawn, spawn_blocking, time, Builder};
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
    Ok(())
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
        _ => format!("{event:?}"),
    };
    println!("{stamp} | {line}");
}

fn who(task: TaskId) -> String {
    task.to_string()
}

fn key(user_data: u64) -> String {
    format!("{user_data:#x}")
}
