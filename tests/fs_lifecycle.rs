//! Lifetimes around file ops: buffers of dropped reads, descriptors of
//! dropped opens and of files dropped or closed with ops in flight, and the
//! order of writes and fsync.
//!
//! Every test here holds `exclusive_fd_table`, because some count the
//! process's descriptors.

mod common;
mod fs_common;

use common::{eventually, exclusive_fd_table, fd_target, open_fds, poll_once, DropLog, Entry, Rng};
use fs_common::{pattern, TempDir};
use ringloop::fs::{File, OpenOptions};
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a live NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Opens a FIFO for reading and writing (which, unlike a read-only open,
/// does not wait for a writer): a read on it stays in flight until data
/// comes, which is never.
async fn idle_fifo(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .await
        .unwrap()
}

/// Runs `body` on a runtime whose SQEs and CQEs are logged into `log`.
fn with_log<F, Fut>(body: F)
where
    F: FnOnce(DropLog) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    common::watchdog(20, move || {
        let log = DropLog::new();
        let rt = log.uring_runtime();
        rt.block_on(body(log));
    });
}

#[test]
fn a_dropped_in_flight_read_keeps_its_buffer_until_its_cqe() {
    let _fds = exclusive_fd_table();
    let dir = TempDir::new("dropread");
    let fifo = dir.join("p");
    mkfifo(&fifo);
    with_log(move |log| async move {
        let file = idle_fifo(&fifo).await;
        let mut read = Box::pin(file.read_at(log.buf(1, 64), 0));
        assert!(poll_once(read.as_mut()).await.is_pending());
        ringloop::time::sleep(Duration::from_millis(2)).await; // now in the kernel
        drop(read);
        log.mark("future dropped");
        assert_eq!(log.drops_of(1), 0, "the kernel still owns the buffer");
        eventually("the cancelled read's CQE frees the buffer", || {
            log.drops_of(1) == 1
        })
        .await;
        log.assert_each_dropped_once_after_its_cqes([1]);
        let op = log.only_user_data_of(1);
        assert_eq!(log.cqe_result(op), Some(-libc::ECANCELED));
        let marked = log.position(&Entry::Mark("future dropped")).unwrap();
        assert!(
            log.cqe_position(op).unwrap() > marked,
            "the CQE came after the drop"
        );
    });
}

#[test]
fn reads_dropped_at_random_points_free_each_buffer_once_after_its_cqe() {
    let _fds = exclusive_fd_table();
    let dir = TempDir::new("randomdrops");
    let path = dir.join("f");
    std::fs::write(&path, pattern(1 << 20, 0)).unwrap();
    const READS: usize = 2000;
    with_log(move |log| async move {
        let mut rng = Rng::from_env_or_clock("reads_dropped_at_random_points");
        let file = File::open(&path).await.unwrap();
        for id in 0..READS {
            let pos = rng.below(1 << 20);
            let mut read = Box::pin(file.read_at(log.buf(id, 4096), pos));
            for _ in 0..rng.below(3) {
                if poll_once(read.as_mut()).await.is_ready() {
                    break;
                }
                if rng.below(2) == 0 {
                    ringloop::yield_now().await;
                }
            }
            drop(read);
        }
        eventually("every buffer is dropped", || {
            (0..READS).all(|id| log.drops_of(id) == 1)
        })
        .await;
        log.assert_each_dropped_once_after_its_cqes(0..READS);
    });
}

#[test]
fn dropped_opens_leak_no_descriptor_whatever_point_they_are_dropped_at() {
    let _fds = exclusive_fd_table();
    let dir = TempDir::new("dropopen");
    let path = dir.join("f");
    std::fs::write(&path, b"x").unwrap();
    fs_common::run_uring(20, move || async move {
        let before = open_fds();
        for i in 0..600 {
            let mut open = Box::pin(File::open(&path));
            match i % 3 {
                0 => {} // never polled: nothing submitted
                1 => {
                    // submitted, dropped before its CQE: cancelled or raced
                    assert!(poll_once(open.as_mut()).await.is_pending());
                }
                _ => {
                    // CQE stored but never taken: finalised on drop
                    assert!(poll_once(open.as_mut()).await.is_pending());
                    ringloop::time::sleep(Duration::from_micros(200)).await;
                }
            }
            drop(open);
        }
        eventually("every opened descriptor is closed", || open_fds() == before).await;
    });
}

#[test]
fn a_file_dropped_with_a_read_in_flight_keeps_its_descriptor_until_the_cqe() {
    let _fds = exclusive_fd_table();
    let dir = TempDir::new("dropfile");
    let fifo = dir.join("p");
    mkfifo(&fifo);
    fs_common::run_uring(10, move || async move {
        let file = idle_fifo(&fifo).await;
        let raw = file.as_raw_fd();
        let names_fifo = || fd_target(raw).map(PathBuf::from).as_deref() == Some(fifo.as_path());
        let mut read = Box::pin(file.read_at(vec![0u8; 64], 0));
        assert!(poll_once(read.as_mut()).await.is_pending());
        ringloop::time::sleep(Duration::from_millis(2)).await;
        drop(read);
        drop(file);
        assert!(
            names_fifo(),
            "the orphaned read still uses the descriptor: it stays open"
        );
        eventually("the descriptor is closed after the read's CQE", || {
            !names_fifo()
        })
        .await;
    });
}

#[test]
fn close_reports_success_and_defers_to_ops_still_in_flight() {
    let _fds = exclusive_fd_table();
    let dir = TempDir::new("close");
    let fifo = dir.join("p");
    mkfifo(&fifo);
    let plain = dir.join("f");
    fs_common::run_uring(10, move || async move {
        let before = open_fds();
        let file = File::create(&plain).await.unwrap();
        file.write_all_at(b"closed".to_vec(), 0).await.0.unwrap();
        file.close().await.unwrap();
        assert_eq!(open_fds(), before, "close released the descriptor");

        let file = idle_fifo(&fifo).await;
        let raw = file.as_raw_fd();
        let mut read = Box::pin(file.read_at(vec![0u8; 64], 0));
        assert!(poll_once(read.as_mut()).await.is_pending());
        drop(read);
        file.close().await.unwrap();
        let names_fifo = || fd_target(raw).map(PathBuf::from).as_deref() == Some(fifo.as_path());
        eventually("closed once the orphaned read completed", || !names_fifo()).await;
        assert_eq!(open_fds(), before);
    });
    assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"closed");
}

#[test]
fn fsync_is_submitted_only_after_the_writes_it_covers_have_completed() {
    let _fds = exclusive_fd_table();
    let dir = TempDir::new("fsyncorder");
    let path = dir.join("f");
    let check = path.clone();
    with_log(move |log| async move {
        let file = File::create(&path).await.unwrap();
        let writes = (0..8u64)
            .map(|i| file.write_all_at(pattern(4096, i as usize), i * 4096))
            .collect();
        for (res, _) in common::join_all(writes).await {
            res.unwrap();
        }
        file.sync_all().await.unwrap();
        file.sync_data().await.unwrap();

        let entries = log.entries();
        let sqe_of = |name: &str| -> Vec<u64> {
            entries
                .iter()
                .filter_map(|e| match e {
                    Entry::Sqe { user_data, op } if *op == name => Some(*user_data),
                    _ => None,
                })
                .collect()
        };
        let writes = sqe_of("write");
        let syncs = sqe_of("fsync");
        assert_eq!((writes.len(), syncs.len()), (8, 2));
        let first_sync_pushed = entries
            .iter()
            .position(|e| matches!(e, Entry::Sqe { op: "fsync", .. }))
            .unwrap();
        for w in writes {
            let done = log.cqe_position(w).expect("every write completed");
            assert!(
                done < first_sync_pushed,
                "write {w:#x} completed after the fsync was queued"
            );
        }
    });
    let data = std::fs::read(check).unwrap();
    for i in 0..8 {
        assert_eq!(data[i * 4096..(i + 1) * 4096], pattern(4096, i)[..]);
    }
}

#[test]
fn a_runtime_dropped_with_an_orphaned_fixed_read_is_torn_down_completely() {
    // The orphaned op's data holds a pool buffer; the pool must not keep
    // the runtime's ring alive (a cycle through the op table).
    let _fds = exclusive_fd_table();
    let dir = TempDir::new("orphanfixed");
    let fifo = dir.join("p");
    mkfifo(&fifo);
    common::watchdog(20, move || {
        let before = open_fds();
        let rt = ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .unwrap();
        rt.block_on(async {
            let pool = ringloop::buf::FixedBufPool::new(1, 4096).unwrap();
            let file = idle_fifo(&fifo).await;
            let mut read = Box::pin(file.read_fixed_at(pool.try_next().unwrap(), 0));
            assert!(poll_once(read.as_mut()).await.is_pending());
            ringloop::time::sleep(Duration::from_millis(2)).await;
            drop(read);
        });
        drop(rt);
        assert_eq!(
            open_fds(),
            before,
            "the ring, its eventfd and the FIFO are all closed"
        );
    });
}
