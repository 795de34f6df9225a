//! A ring far smaller than the work: a full SQ is flushed, extra SQEs and
//! cancels wait in user space, an overflowing CQ is drained. Nothing hangs,
//! nothing is lost.

mod common;

use common::{eventually, join_all, poll_once, watchdog, DropLog, Entry};
use ringloop::io::pipe;
use ringloop::{spawn, Builder};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

#[test]
fn ten_thousand_nops_from_100_tasks_on_a_ring_of_2_all_complete() {
    watchdog(60, || {
        let rt = Builder::new()
            .driver(ringloop::Driver::Uring)
            .entries(2)
            .cq_entries(4)
            .build()
            .unwrap();
        let before = rt.stats();
        let completed = rt.block_on(async {
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    spawn(async {
                        let nops = (0..100).map(|_| ringloop::nop()).collect();
                        join_all(nops)
                            .await
                            .into_iter()
                            .filter(Result::is_ok)
                            .count()
                    })
                })
                .collect();
            let mut completed = 0;
            for task in tasks {
                completed += task.await.unwrap();
            }
            completed
        });
        assert_eq!(completed, 10_000, "every NOP completed successfully");
        let stats = rt.stats().since(&before);
        assert_eq!(stats.ops_submitted, 10_000);
        assert!(stats.cqes_reaped >= 10_000, "{stats:?}");
        assert!(
            stats.sq_full_flushes > 0,
            "a task pushes 100 SQEs in a row into an SQ of 2: the full SQ must have been flushed: {stats:?}"
        );
        assert!(
            stats.cq_overflow_drains > 0,
            "flushing 2 NOPs at a time into a CQ of 4 without reaping overflows it: {stats:?}"
        );
        assert_eq!(stats.stale_cqes, 0);
    });
}

#[test]
fn six_hundred_writes_on_a_ring_of_2_then_a_thousand_futures_dropped_at_once() {
    const WRITES: usize = 600;
    const READS: usize = 400;
    const MSG: usize = 512; // <= PIPE_BUF: each write is atomic
    watchdog(60, || {
        let log = DropLog::new();
        let rt = Builder::new()
            .driver(ringloop::Driver::Uring)
            .entries(2)
            .on_event(log.observer())
            .build()
            .unwrap();
        let before = rt.stats();
        rt.block_on(async {
            let (sink, write_end) = pipe().unwrap();
            let (read_end, _silent) = pipe().unwrap();
            let (writer, reader) = (&write_end, &read_end);
            let mut futures: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = Vec::new();
            for id in 0..WRITES {
                let tag = (id as u16).to_le_bytes();
                let msg = log.buf_with(id, tag.repeat(MSG / 2));
                futures.push(Box::pin(async move {
                    let _ = writer.write(msg).await;
                }));
            }
            for id in WRITES..WRITES + READS {
                let buf = log.buf(id, 64);
                futures.push(Box::pin(async move {
                    let _ = reader.read(buf).await;
                }));
            }
            // Every future pushes its SQE through the 2-entry SQ now ...
            for future in &mut futures {
                assert!(poll_once(future.as_mut()).await.is_pending());
            }
            // ... and all 1000 are dropped at once: up to 1000 cancels to queue.
            log.mark("all dropped");
            drop(futures);
            ringloop::nop().await.expect("the loop still works");
            eventually("every buffer is released", || {
                (0..WRITES + READS).all(|id| log.drops_of(id) > 0)
            })
            .await;

            // Whatever reached the pipe are whole messages, each at most once,
            // exactly those whose write CQE reported success.
            drop(write_end);
            let mut received = Vec::new();
            loop {
                let (res, buf) = sink.read(Vec::with_capacity(64 * 1024)).await;
                if res.unwrap() == 0 {
                    break;
                }
                received.extend_from_slice(&buf);
            }
            assert_eq!(received.len() % MSG, 0, "a write was torn");
            let mut tags = HashSet::new();
            for msg in received.chunks(MSG) {
                let tag = &msg[..2];
                assert!(msg.chunks(2).all(|c| c == tag), "a message was corrupted");
                let id = u16::from_le_bytes([tag[0], tag[1]]) as usize;
                assert!(id < WRITES && tags.insert(id), "message {id} arrived twice");
            }
            let written: HashSet<usize> = (0..WRITES)
                .filter(|&id| {
                    let key = log.only_user_data_of(id);
                    log.cqe_result(key) == Some(MSG as i32)
                })
                .collect();
            assert_eq!(
                tags, written,
                "the pipe holds exactly the writes the CQEs reported"
            );
        });

        log.assert_each_dropped_once_after_its_cqes(0..WRITES + READS);
        let stats = rt.stats().since(&before);
        assert!(stats.sq_full_flushes > 0, "{stats:?}");
        let dropped_at = log.position(&Entry::Mark("all dropped")).unwrap();
        let in_flight_at_drop = (0..WRITES + READS)
            .filter(|&id| {
                let key = log.only_user_data_of(id);
                log.cqe_position(key).is_none_or(|at| at > dropped_at)
            })
            .count();
        assert!(in_flight_at_drop > 0);
        assert_eq!(
            stats.cancels, in_flight_at_drop as u64,
            "one cancel per op dropped in flight"
        );
        assert_eq!(stats.stale_cqes, 0);
        let pushed = log.count(|e| matches!(e, Entry::Sqe { .. }));
        let reaped = log.count(|e| matches!(e, Entry::Cqe { .. }));
        assert_eq!(pushed, reaped, "every op got exactly one CQE");
    });
}

#[test]
fn ring_sizes_the_kernel_rejects_are_an_invalid_input_error_not_a_panic() {
    for (entries, cq) in [(0, None), (8, Some(2)), (1 << 20, None)] {
        let mut builder = Builder::new()
            .driver(ringloop::Driver::Uring)
            .entries(entries);
        if let Some(cq) = cq {
            builder = builder.cq_entries(cq);
        }
        let err = builder
            .build()
            .expect_err(&format!("entries {entries}, cq {cq:?} must be refused"));
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::InvalidInput,
            "entries {entries}, cq {cq:?}: {err}"
        );
    }
}
