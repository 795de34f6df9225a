//! `nop`: round trips through the ring with the cheapest op there is.
//!
//! `tasks` tasks each await IORING_OP_NOP in a loop, M NOPs in all; the
//! `seq` case is the same with a single task, so every NOP is its own
//! submit-and-wait. This measures the runtime's per-op cost: building the
//! SQE, submitting, reaping the CQE, and waking and polling the task.
//!
//! The raw `io-uring` crate loop is the ceiling: no tasks, no wakers, just
//! push `tasks` NOP SQEs, `submit_and_wait(tasks)`, reap, repeat.

use io_uring::{opcode, IoUring};

use super::{
    measure, measure_blocking, record, record_ringloop_syscalls, share, Case, Job, Metric, Outcome,
    Peer, Scenario, Skip,
};

pub const SCENARIO: Scenario = Scenario {
    name: "nop",
    about: "tasks awaiting IORING_OP_NOP in a loop (single thread)",
    unit: "ops",
    cases: &[
        Case {
            id: "tasks64",
            title: "{n} NOPs from 64 tasks",
            concurrency: 64,
            n: 2_000_000,
            n_quick: 500_000,
        },
        Case {
            id: "seq",
            title: "{n} NOPs from 1 task (sequential)",
            concurrency: 1,
            n: 2_000_000,
            n_quick: 500_000,
        },
    ],
    peers: &[
        Peer {
            name: "ringloop",
            run: ringloop,
        },
        Peer {
            name: "monoio",
            run: monoio,
        },
        Peer {
            name: "tokio-uring",
            run: tokio_uring,
        },
        Peer {
            name: "compio",
            run: compio,
        },
        Peer {
            name: "io-uring-raw",
            run: raw_io_uring,
        },
    ],
    // Seconds per run (`run_secs`), measured: one full round on 2 cores.
    run_secs: |_, quick| if quick { 0.4 } else { 1.0 },
};

/// The checksum of a pass: the number of NOPs that completed.
fn count(n: u64) -> u64 {
    n
}

fn ringloop(job: &Job) -> Outcome {
    let rt = ringloop::Runtime::new().map_err(Skip::build)?;
    let tasks = job.concurrency;
    let (sample, stats) = rt.block_on(async {
        let sample = measure(job.n, count, |n| async move {
            let handles: Vec<_> = (0..tasks)
                .map(|i| {
                    ringloop::spawn(async move {
                        let k = share(n, tasks, i);
                        for _ in 0..k {
                            ringloop::nop().await.expect("ringloop nop failed");
                        }
                        k
                    })
                })
                .collect();
            let mut done = 0;
            for h in handles {
                done += h.await.expect("ringloop task failed");
            }
            done
        })
        .await;
        (sample, ringloop::stats())
    });
    record_ringloop_syscalls(&stats);
    Ok(sample.with_note(stats))
}

fn monoio(_: &Job) -> Outcome {
    Err(Skip::new(concat!(
        "no nop op (monoio ",
        env!("VERSION_MONOIO"),
        " has no public NOP operation)"
    )))
}

fn tokio_uring(job: &Job) -> Outcome {
    let tasks = job.concurrency;
    Ok(tokio_uring::start(measure(job.n, count, |n| async move {
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                tokio_uring::spawn(async move {
                    let k = share(n, tasks, i);
                    for _ in 0..k {
                        tokio_uring::no_op()
                            .await
                            .expect("tokio-uring no_op failed");
                    }
                    k
                })
            })
            .collect();
        let mut done = 0;
        for h in handles {
            done += h.await.expect("tokio-uring task failed");
        }
        done
    })))
}

fn compio(_: &Job) -> Outcome {
    Err(Skip::new(concat!(
        "no nop op (compio ",
        env!("VERSION_COMPIO"),
        " has no public NOP operation)"
    )))
}

fn raw_io_uring(job: &Job) -> Outcome {
    let batch = job.concurrency as u64;
    let mut ring = IoUring::new(256).map_err(Skip::build)?;
    let mut enters = 0u64;
    let mut ops = 0u64;
    let sample = measure_blocking(job.n, count, |n| {
        let mut done = 0;
        while done < n {
            let k = batch.min(n - done);
            {
                let mut sq = ring.submission();
                for i in 0..k {
                    let sqe = opcode::Nop::new().build().user_data(i);
                    // SAFETY: a NOP references no memory.
                    unsafe { sq.push(&sqe) }.expect("submission queue full");
                }
            }
            ring.submit_and_wait(k as usize)
                .expect("io_uring_enter failed");
            enters += 1;
            ops += k;
            for cqe in ring.completion() {
                assert!(cqe.result() >= 0, "NOP failed: {}", cqe.result());
                done += 1;
            }
        }
        done
    });
    record(Metric::SyscallsPerOp, enters as f64 / ops.max(1) as f64);
    Ok(sample)
}
