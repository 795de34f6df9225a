//! `spawn`: spawn + join of N trivial tasks on one thread.
//!
//! The spawner spawns all N tasks (task `i` returns `i`), keeping the handles
//! in a Vec, then awaits each handle in order and sums the outputs; the sum
//! must be 0 + 1 + ... + (N-1). This measures task allocation, scheduling,
//! waking the joiner and tearing the task down: everything but I/O.

use super::{measure, Case, Job, Outcome, Peer, Scenario, Skip};

pub const SCENARIO: Scenario = Scenario {
    name: "spawn",
    about: "spawn N trivial tasks, then join them in order (single thread)",
    unit: "tasks",
    cases: &[Case {
        id: "spawn",
        title: "spawn + join of {n} trivial tasks",
        concurrency: 1,
        n: 1_000_000,
        n_quick: 200_000,
    }],
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
            name: "tokio",
            run: tokio,
        },
    ],
    // Seconds per run (`run_secs`), measured: one full round on 2 cores.
    run_secs: |_, _| 0.4,
};

/// The checksum of a pass of `n` tasks.
fn sum_below(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn ringloop(job: &Job) -> Outcome {
    let rt = ringloop::Runtime::new().map_err(Skip::build)?;
    let (sample, stats) = rt.block_on(async {
        let sample = measure(job.n, sum_below, |n| async move {
            let mut handles = Vec::with_capacity(n as usize);
            for i in 0..n {
                handles.push(ringloop::spawn(async move { i }));
            }
            let mut sum = 0;
            for h in handles {
                sum += h.await.expect("ringloop task failed");
            }
            sum
        })
        .await;
        (sample, ringloop::stats())
    });
    Ok(sample.with_note(stats))
}

fn monoio(job: &Job) -> Outcome {
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .build()
        .map_err(Skip::build)?;
    Ok(rt.block_on(measure(job.n, sum_below, |n| async move {
        let mut handles = Vec::with_capacity(n as usize);
        for i in 0..n {
            handles.push(monoio::spawn(async move { i }));
        }
        let mut sum = 0;
        for h in handles {
            sum += h.await;
        }
        sum
    })))
}

fn tokio_uring(job: &Job) -> Outcome {
    // `tokio_uring::start` panics if the ring cannot be set up; the parent
    // then reports this peer as skipped with the panic message.
    Ok(tokio_uring::start(measure(
        job.n,
        sum_below,
        |n| async move {
            let mut handles = Vec::with_capacity(n as usize);
            for i in 0..n {
                handles.push(tokio_uring::spawn(async move { i }));
            }
            let mut sum = 0;
            for h in handles {
                sum += h.await.expect("tokio-uring task failed");
            }
            sum
        },
    )))
}

fn compio(job: &Job) -> Outcome {
    let rt = compio::runtime::Runtime::new().map_err(Skip::build)?;
    Ok(rt.block_on(measure(job.n, sum_below, |n| async move {
        let mut handles = Vec::with_capacity(n as usize);
        for i in 0..n {
            handles.push(compio::runtime::spawn(async move { i }));
        }
        let mut sum = 0;
        for h in handles {
            sum += h.await.expect("compio task failed");
        }
        sum
    })))
}

fn tokio(job: &Job) -> Outcome {
    // A current-thread runtime as a tokio user builds it (`enable_all`, so the
    // epoll driver is polled between tasks just as the io_uring peers poll
    // their rings). The tasks are Send, so a tokio user writes plain
    // `tokio::spawn` here; no LocalSet / `spawn_local` is needed.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Skip::build)?;
    Ok(rt.block_on(measure(job.n, sum_below, |n| async move {
        let mut handles = Vec::with_capacity(n as usize);
        for i in 0..n {
            handles.push(tokio::spawn(async move { i }));
        }
        let mut sum = 0;
        for h in handles {
            sum += h.await.expect("tokio task failed");
        }
        sum
    })))
}
