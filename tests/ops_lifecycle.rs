//! Ops and the kernel: a buffer the kernel may write into is never freed
//! before the op's CQE, whatever the point at which its future is dropped.
//!
//! Every test here holds [`exclusive_fd_table`] because some count open
//! descriptors, and the fd table is shared by all threads of this binary.

mod common;

use common::{
    eventually, exclusive_fd_table, fd_target, open_fds, poll_once, watchdog, DropLog, Entry, Rng,
};
use ringloop::io::pipe;
use ringloop::{spawn, yield_now, Builder};
use std::future::Future;
use std::os::fd::AsRawFd;
use std::rc::Rc;

#[test]
fn a_read_returns_the_bytes_written_to_the_pipe() {
    let _fds = exclusive_fd_table();
    watchdog(10, || {
        let rt = Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .unwrap();
        rt.block_on(async {
            let (reader, writer) = pipe().unwrap();
            let (res, _) = writer.write_all(b"hello, ring".to_vec()).await;
            res.unwrap();
            let (res, buf) = reader.read(Vec::with_capacity(64)).await;
            assert_eq!(res.unwrap(), 11);
            assert_eq!(buf, b"hello, ring");
            drop(writer);
            let (res, _) = reader.read(Vec::with_capacity(64)).await;
            assert_eq!(res.unwrap(), 0, "EOF once every writer is closed");
        });
    });
}

#[test]
fn dropping_an_in_flight_read_keeps_its_buffer_until_the_cancelled_reads_cqe() {
    let _fds = exclusive_fd_table();
    watchdog(10, || {
        let log = DropLog::new();
        let rt = log.uring_runtime();
        let user_data = rt.block_on(async {
            let (reader, _writer) = pipe().unwrap();
            let before = ringloop::stats();
            let mut read = Box::pin(reader.read(log.buf(1, 64)));
            assert!(
                poll_once(read.as_mut()).await.is_pending(),
                "nothing was written"
            );
            let user_data = log.only_user_data_of(1);

            log.mark("read future dropped");
            drop(read);
            assert_eq!(
                log.drops_of(1),
                0,
                "the buffer outlives its dropped future: the kernel still owns it"
            );
            eventually("the cancelled read's buffer is released", || {
                log.drops_of(1) == 1
            })
            .await;
            assert_eq!(ringloop::stats().since(&before).cancels, 1);
            user_data
        });

        let dropped_future = log.position(&Entry::Mark("read future dropped")).unwrap();
        let cqe = log.cqe_position(user_data).expect("the read had its CQE");
        let dropped_buf = log.position(&Entry::Dropped(1)).unwrap();
        assert!(
            dropped_future < cqe && cqe < dropped_buf,
            "expected future drop < CQE < buffer drop, got {dropped_future} / {cqe} / {dropped_buf} in {:?}",
            log.entries()
        );
        assert_eq!(log.cqe_result(user_data), Some(-libc::ECANCELED));
    });
}

#[test]
fn thousands_of_random_drop_points_never_free_a_buffer_before_its_cqe() {
    const READS: usize = 2_000;
    let _fds = exclusive_fd_table();
    watchdog(60, || {
        let mut rng = Rng::from_env_or_clock("random drop points");
        let log = DropLog::new();
        let rt = log.uring_runtime();
        let before = rt.stats();
        rt.block_on(async {
            let (reader, writer) = pipe().unwrap();
            let (reader, writer) = (Rc::new(reader), Rc::new(writer));
            let mut handles = Vec::new();
            for id in 0..READS {
                let yields = rng.below(3);
                let buf = log.buf(id, 1 + rng.below(16) as usize);
                let reader = Rc::clone(&reader);
                if rng.below(2) == 0 {
                    // Abort the reading task from outside after `yields` turns.
                    let handle = spawn(async move {
                        let (res, _buf) = reader.read(buf).await;
                        res.map(drop)
                    });
                    for _ in 0..yields {
                        yield_now().await;
                    }
                    handle.abort();
                    handles.push(handle);
                } else {
                    // Drop the read future inside the task after `yields` polls.
                    handles.push(spawn(async move {
                        let mut read = Box::pin(reader.read(buf));
                        for _ in 0..=yields {
                            if poll_once(read.as_mut()).await.is_ready() {
                                break;
                            }
                            yield_now().await;
                        }
                        drop(read);
                        Ok(())
                    }));
                }
                if rng.below(3) == 0 {
                    // A write racing with the reads and their cancels.
                    let writer = Rc::clone(&writer);
                    let bytes = vec![b'x'; 1 + rng.below(8) as usize];
                    drop(spawn(async move {
                        let (res, _) = writer.write(bytes).await;
                        res.unwrap();
                    }));
                }
            }
            for handle in handles {
                match handle.await {
                    Ok(result) => result.unwrap(),
                    Err(e) => assert!(e.is_cancelled(), "{e}"),
                }
            }
            eventually("every buffer is released", || {
                (0..READS).all(|id| log.drops_of(id) > 0)
            })
            .await;
        });

        log.assert_each_dropped_once_after_its_cqes(0..READS);
        let reads = log.count(|e| matches!(e, Entry::Sqe { op: "read", .. }));
        let read_keys: Vec<u64> = log
            .entries()
            .iter()
            .filter_map(|e| match e {
                Entry::Sqe {
                    user_data,
                    op: "read",
                } => Some(*user_data),
                _ => None,
            })
            .collect();
        for key in &read_keys {
            assert!(log.has_cqe(*key), "read {key:#x} never got its CQE");
        }
        let stats = rt.stats().since(&before);
        assert!(
            reads > 0 && stats.cancels > 0,
            "the test dropped reads in flight: {stats:?}"
        );
        assert_eq!(stats.stale_cqes, 0, "every CQE found its op's slot alive");
    });
}

#[test]
fn a_read_polled_once_completed_and_dropped_untaken_releases_its_buffer_and_fds() {
    let _fds = exclusive_fd_table();
    watchdog(10, || {
        let log = DropLog::new();
        let rt = log.uring_runtime();
        rt.block_on(async {
            let fds_before = open_fds();
            let (reader, writer) = pipe().unwrap();
            let mut read = Box::pin(reader.read(log.buf(1, 16)));
            assert!(poll_once(read.as_mut()).await.is_pending());
            let user_data = log.only_user_data_of(1);

            let (res, _) = writer.write(&b"ping"[..]).await;
            assert_eq!(res.unwrap(), 4);
            eventually("the read's CQE is reaped", || log.has_cqe(user_data)).await;
            assert_eq!(log.cqe_result(user_data), Some(4));
            assert_eq!(
                log.drops_of(1),
                0,
                "the completed result waits in the op table with its buffer"
            );

            let before = ringloop::stats();
            drop(read);
            assert_eq!(
                log.drops_of(1),
                1,
                "dropping the completed op releases its buffer at once"
            );
            assert_eq!(
                ringloop::stats().since(&before).cancels,
                0,
                "an op that already completed needs no cancel"
            );
            drop((reader, writer));
            assert_eq!(open_fds(), fds_before, "no descriptor leaked");
        });
        log.assert_each_dropped_once_after_its_cqes([1]);
    });
}

#[test]
fn a_readers_fd_stays_open_until_the_cqe_of_an_abandoned_read_then_closes() {
    let _fds = exclusive_fd_table();
    watchdog(10, || {
        let log = DropLog::new();
        let rt = log.uring_runtime();
        rt.block_on(async {
            let fds_before = open_fds();
            let (reader, writer) = pipe().unwrap();
            let fd = reader.as_raw_fd();
            let pipe_inode = fd_target(fd).unwrap();

            let mut read = Box::pin(reader.read(log.buf(1, 16)));
            assert!(poll_once(read.as_mut()).await.is_pending());
            drop(read);
            drop(reader);
            assert_eq!(
                fd_target(fd),
                Some(pipe_inode.clone()),
                "the fd must not be closed (and its number reused) while the read's SQE may still reach the kernel"
            );

            eventually("the abandoned read's buffer is released", || log.drops_of(1) == 1).await;
            assert_ne!(fd_target(fd), Some(pipe_inode), "closed after the CQE");
            drop(writer);
            assert_eq!(open_fds(), fds_before);
        });
        log.assert_each_dropped_once_after_its_cqes([1]);
    });
}

#[test]
fn a_timeout_that_elapses_around_a_read_cancels_it_and_releases_the_buffer_after_the_cqe() {
    let _fds = exclusive_fd_table();
    watchdog(10, || {
        let log = DropLog::new();
        let rt = log.uring_runtime();
        rt.block_on(async {
            let (reader, _writer) = pipe().unwrap();
            let before = ringloop::stats();
            let read = reader.read(log.buf(1, 16));
            let result = ringloop::time::timeout(std::time::Duration::from_millis(5), read).await;
            assert!(
                result.is_err(),
                "nothing was written: the read cannot finish"
            );
            eventually("the timed-out read's buffer is released", || {
                log.drops_of(1) == 1
            })
            .await;
            assert_eq!(ringloop::stats().since(&before).cancels, 1);
        });
        log.assert_each_dropped_once_after_its_cqes([1]);
    });
}

#[test]
fn a_read_future_that_outlives_its_runtime_keeps_its_buffer_until_the_cqe() {
    let _fds = exclusive_fd_table();
    watchdog(30, || {
        let fds_before = open_fds();
        let log = DropLog::new();
        let rt = log.uring_runtime();
        let (reader, writer) = pipe().unwrap();
        let buf = log.buf(1, 16);
        let mut read = Box::pin(async move { reader.read(buf).await });
        rt.block_on(async {
            assert!(poll_once(read.as_mut()).await.is_pending());
            // Let the loop go to sleep once, as any real program would.
            ringloop::time::sleep(std::time::Duration::from_millis(2)).await;
        });
        drop(rt);
        assert_eq!(log.drops_of(1), 0, "the read is still in flight");

        let started = std::time::Instant::now();
        drop(read);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "dropping the last op of a dropped runtime took {:?}",
            started.elapsed()
        );
        log.assert_each_dropped_once_after_its_cqes([1]);
        drop(writer);
        assert_eq!(
            open_fds(),
            fds_before,
            "the pipe, the ring and its eventfd are closed"
        );
    });
}

#[test]
fn an_op_polled_outside_a_runtime_fails_at_once_and_hands_the_buffer_back() {
    let _fds = exclusive_fd_table();
    let log = DropLog::new();
    let (reader, _writer) = pipe().unwrap();
    let mut read = std::pin::pin!(reader.read(log.buf(1, 8)));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let std::task::Poll::Ready((res, buf)) = read.as_mut().poll(&mut cx) else {
        panic!("outside a runtime the op must not wait");
    };
    let err = res.unwrap_err();
    assert!(err.to_string().contains("ringloop runtime"), "{err}");
    assert_eq!(buf.id(), 1, "the caller gets its buffer back");
    assert_eq!(log.drops_of(1), 0);
    drop(buf);
    assert_eq!(log.drops_of(1), 1);

    let mut nop = std::pin::pin!(ringloop::nop());
    assert!(matches!(
        nop.as_mut().poll(&mut cx),
        std::task::Poll::Ready(Err(_))
    ));
}
