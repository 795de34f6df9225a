//! NOP throughput: ringloop against a raw `io-uring` loop, same run.
//!
//! * 64 tasks each awaiting NOPs in a loop vs. a raw loop that pushes 64
//!   NOPs per `submit_and_wait(64)` (the ceiling: no tasks, no table).
//! * One task awaiting NOPs one after another vs. the raw loop with batch 1.
//!
//! `cargo bench --bench nop` (`BENCH_QUICK=1` for a short run).

mod common;

use common::{header, interleave, pin, print_ratio, print_table, quick, rate, Case};
use io_uring::{opcode, IoUring};

fn ringloop_tasks(tasks: u64, total: u64) -> f64 {
    let rt = ringloop::Runtime::new().expect("runtime");
    let per_task = total / tasks;
    rate(per_task * tasks, || {
        rt.block_on(async {
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    ringloop::spawn(async move {
                        for _ in 0..per_task {
                            ringloop::nop().await.expect("nop");
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.expect("task");
            }
        })
    })
}

fn raw_loop(batch: u32, total: u64) -> f64 {
    let mut ring: IoUring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(256)
        .expect("ring");
    let rounds = total / u64::from(batch);
    rate(rounds * u64::from(batch), || {
        for _ in 0..rounds {
            {
                let mut sq = ring.submission();
                for i in 0..batch {
                    let sqe = opcode::Nop::new().build().user_data(u64::from(i));
                    // SAFETY: a NOP carries no pointer.
                    unsafe { sq.push(&sqe).expect("sq has room") };
                }
            }
            ring.submit_and_wait(batch as usize).expect("enter");
            let mut n = 0;
            for cqe in ring.completion() {
                assert!(cqe.result() >= 0);
                n += 1;
            }
            assert_eq!(n, batch);
        }
    })
}

fn main() {
    pin();
    let total = if quick() { 1_000_000 } else { 4_000_000 };
    let seq = total / 4;
    header("NOP throughput (ops/s)");
    let mut cases = [
        Case {
            name: "ringloop 64 tasks",
            run: Box::new(|| ringloop_tasks(64, total)),
        },
        Case {
            name: "raw io-uring batch 64",
            run: Box::new(|| raw_loop(64, total)),
        },
        Case {
            name: "ringloop 1 task sequential",
            run: Box::new(|| ringloop_tasks(1, seq)),
        },
        Case {
            name: "raw io-uring batch 1",
            run: Box::new(|| raw_loop(1, seq)),
        },
    ];
    let summaries = interleave(&mut cases);
    print_table("NOPs", "ops/s", &summaries);
    print_ratio(&summaries, "ringloop 64 tasks", "raw io-uring batch 64");
    print_ratio(
        &summaries,
        "ringloop 1 task sequential",
        "raw io-uring batch 1",
    );
}
