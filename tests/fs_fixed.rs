//! Registered resources: `FixedBufPool` (fixed buffers), `FixedFiles`
//! (fixed files), and `AlignedBuf`.

mod common;
mod fs_common;

use fs_common::{pattern, run_uring as run, scratch_file, TempDir};
use ringloop::buf::{AlignedBuf, FixedBufPool, IoBuf};
use ringloop::fs::{File, FixedFiles};
use std::io::ErrorKind;

#[test]
fn fixed_buffers_round_trip_whole_and_sliced() {
    let dir = TempDir::new("fixedbuf");
    let path = dir.join("f");
    run(10, move || async move {
        let pool = FixedBufPool::new(4, 8192).unwrap();
        assert_eq!(
            (pool.count(), pool.buf_size(), pool.available()),
            (4, 8192, 4)
        );
        let file = scratch_file(&path).await;

        let mut buf = pool.try_next().unwrap();
        assert!(buf.is_empty() && buf.capacity() == 8192);
        buf.extend_from_slice(&pattern(5000, 1)).unwrap();
        let (res, buf) = file.write_fixed_at(buf, 333).await;
        assert_eq!(res.unwrap(), 5000);
        drop(buf);

        let (res, buf) = file.read_fixed_at(pool.next().await, 333).await;
        assert_eq!(res.unwrap(), 5000, "short: the file ends");
        assert_eq!(&buf[..], &pattern(5000, 1)[..]);

        // A slice of a fixed buffer is a fixed buffer too.
        let (res, slice) = file.read_fixed_at(buf.slice(100..200), 333 + 7).await;
        assert_eq!(res.unwrap(), 100);
        assert_eq!(&slice.get_ref()[100..200], &pattern(5000, 1)[7..107]);
        let mut buf = slice.into_inner();
        buf.clear();
        buf.resize(10, 9).unwrap();
        let (res, _) = file.write_fixed_at(buf.slice(2..6), 0).await;
        assert_eq!(res.unwrap(), 4);
    });
}

#[test]
fn an_empty_pool_makes_next_wait_until_a_buffer_comes_back() {
    run(10, || async {
        let pool = FixedBufPool::new(1, 4096).unwrap();
        let held = pool.try_next().unwrap();
        assert!(pool.try_next().is_none());
        assert_eq!(pool.available(), 0);
        let waiter = {
            let pool = pool.clone();
            ringloop::spawn(async move { pool.next().await.buf_index() })
        };
        ringloop::time::sleep(std::time::Duration::from_millis(5)).await;
        assert!(!waiter.is_finished(), "no buffer yet");
        let index = held.buf_index();
        drop(held);
        assert_eq!(
            waiter.await.unwrap(),
            index,
            "the returned buffer is handed out"
        );
        assert_eq!(pool.available(), 1, "and returned again when dropped");
    });
}

#[test]
fn pool_sizes_out_of_range_are_invalid_input() {
    run(10, || async {
        for (count, size) in [(0, 4096), (1, 0), (16385, 4096), (1, (1 << 30) + 1)] {
            let err = FixedBufPool::new(count, size).unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::InvalidInput,
                "{count} x {size}: {err}"
            );
        }
    });
}

#[test]
fn a_second_pool_on_one_runtime_is_resource_busy_until_the_first_is_gone() {
    run(10, || async {
        let first = FixedBufPool::new(2, 4096).unwrap();
        let buf = first.try_next().unwrap();
        let err = FixedBufPool::new(2, 4096).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ResourceBusy, "{err}");
        drop(first);
        assert!(
            FixedBufPool::new(2, 4096).is_err(),
            "a checked-out buffer keeps the registration alive"
        );
        drop(buf);
        FixedBufPool::new(2, 4096).expect("the table was unregistered with its last buffer");
    });
}

#[test]
fn a_buffer_from_another_runtimes_pool_is_refused() {
    let dir = TempDir::new("foreignpool");
    let path = dir.join("f");
    std::fs::write(&path, b"data").unwrap();
    common::watchdog(10, move || {
        let rt1 = ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .unwrap();
        let rt2 = ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .unwrap();
        let (pool, file) = rt1.block_on(async {
            (
                FixedBufPool::new(1, 4096).unwrap(),
                File::open(&path).await.unwrap(),
            )
        });
        let buf = pool.try_next().unwrap();
        let (res, buf) = rt2.block_on(file.read_fixed_at(buf, 0));
        let err = res.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("another runtime"), "{err}");
        let (res, buf) = rt1.block_on(file.read_fixed_at(buf, 0));
        assert_eq!(res.unwrap(), 4);
        assert_eq!(&buf[..], b"data");
    });
}

#[test]
fn a_registered_file_does_its_io_through_its_slot_and_frees_it_when_closed() {
    let dir = TempDir::new("fixedfile");
    let path = dir.join("f");
    run(10, move || async move {
        let table = FixedFiles::new(2).unwrap();
        let pool = FixedBufPool::new(1, 4096).unwrap();
        let mut file = scratch_file(&path).await;
        assert!(!file.is_registered());
        file.register(&table).unwrap();
        file.register(&table).unwrap(); // again: no-op
        assert!(file.is_registered());
        assert_eq!(table.available(), 1);

        let mut buf = pool.try_next().unwrap();
        buf.extend_from_slice(b"fixed file, fixed buffer").unwrap();
        let (res, buf) = file.write_fixed_at(buf, 0).await;
        assert_eq!(res.unwrap(), 24);
        drop(buf);
        file.sync_data().await.unwrap();
        file.fallocate(0, 8192, libc::FALLOC_FL_KEEP_SIZE)
            .await
            .unwrap();
        file.set_len(10).await.unwrap();
        let (res, bufs) = file
            .readv_at(vec![Vec::with_capacity(5), Vec::with_capacity(64)], 0)
            .await;
        assert_eq!(res.unwrap(), 10);
        assert_eq!((&bufs[0][..], &bufs[1][..]), (&b"fixed"[..], &b" file"[..]));
        let (res, buf) = file.read_fixed_at(pool.try_next().unwrap(), 5).await;
        assert_eq!(res.unwrap(), 5);
        assert_eq!(&buf[..], b" file");

        file.close().await.unwrap();
        assert_eq!(table.available(), 2, "closing the file freed its slot");
    });
}

#[test]
fn a_full_file_table_is_an_error_and_a_second_table_is_resource_busy() {
    let dir = TempDir::new("fulltable");
    let path = dir.join("f");
    std::fs::write(&path, b"x").unwrap();
    run(10, move || async move {
        let table = FixedFiles::new(1).unwrap();
        assert_eq!(
            FixedFiles::new(1).unwrap_err().kind(),
            ErrorKind::ResourceBusy
        );
        assert_eq!(
            FixedFiles::new(0).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let mut a = File::open(&path).await.unwrap();
        let mut b = File::open(&path).await.unwrap();
        a.register(&table).unwrap();
        let err = b.register(&table).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::QuotaExceeded, "{err}");
        drop(a);
        b.register(&table)
            .expect("the dropped file's slot is free again");
    });
}

#[test]
fn a_registered_file_used_on_another_runtime_falls_back_to_its_descriptor() {
    let dir = TempDir::new("fixedforeign");
    let path = dir.join("f");
    std::fs::write(&path, b"portable").unwrap();
    common::watchdog(10, move || {
        let rt1 = ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .unwrap();
        let rt2 = ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .unwrap();
        let (table, file) = rt1.block_on(async {
            let table = FixedFiles::new(4).unwrap();
            let mut file = File::open(&path).await.unwrap();
            file.register(&table).unwrap();
            (table, file)
        });
        // rt2's ring has no table (or another one): the slot index would
        // name nothing, or another file.
        let _other = rt2.block_on(async { FixedFiles::new(4).unwrap() });
        let (res, bufs) = rt2.block_on(file.readv_at(vec![Vec::with_capacity(8)], 0));
        assert_eq!(res.unwrap(), 8);
        assert_eq!(bufs[0], b"portable");
        drop(file);
        assert_eq!(table.available(), 4);
    });
}

#[test]
fn aligned_buffers_are_aligned_and_refuse_what_does_not_fit() {
    let buf = AlignedBuf::new(10_000).unwrap();
    assert_eq!(buf.stable_ptr() as usize % 4096, 0);
    assert_eq!(
        (buf.len(), buf.capacity(), buf.alignment()),
        (0, 10_000, 4096)
    );
    let mut buf = AlignedBuf::with_alignment(100, 512).unwrap();
    assert_eq!(buf.stable_ptr() as usize % 512, 0);
    buf.extend_from_slice(&[1; 60]).unwrap();
    let err = buf.extend_from_slice(&[2; 41]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(buf.len(), 60, "nothing copied on error");
    buf.resize(100, 3).unwrap();
    assert_eq!(&buf[58..62], &[1, 1, 3, 3]);
    assert!(buf.resize(101, 0).is_err());
    buf.truncate(10);
    assert_eq!(buf.len(), 10);
    let err = AlignedBuf::with_alignment(10, 3).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let empty = AlignedBuf::with_alignment(0, 4096).unwrap();
    assert!(empty.is_empty() && empty.stable_ptr() as usize % 4096 == 0);
    assert_eq!(
        AlignedBuf::new(usize::MAX).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn a_registered_files_ops_name_its_slot_not_its_descriptor_number() {
    let dir = TempDir::new("slotnotfd");
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::write(&a, b"AAAA").unwrap();
    std::fs::write(&b, b"BBBB").unwrap();
    run(10, move || async move {
        use std::os::fd::AsRawFd;
        let table = FixedFiles::new(1).unwrap();
        let pool = FixedBufPool::new(1, 4096).unwrap();
        let mut file = File::open(&a).await.unwrap();
        file.register(&table).unwrap();
        // Point the descriptor number at another file: the slot still
        // holds the kernel's reference to the registered one.
        let other = std::fs::File::open(&b).unwrap();
        // SAFETY: both descriptors are open; dup2 atomically replaces what
        // the file's number refers to, and the File still owns that number.
        assert!(unsafe { libc::dup2(other.as_raw_fd(), file.as_raw_fd()) } >= 0);
        let (res, buf) = file.read_fixed_at(pool.try_next().unwrap(), 0).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(&buf[..], b"AAAA", "read_fixed_at names the slot");
        let (res, bufs) = file.readv_at(vec![Vec::with_capacity(4)], 0).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(bufs[0], b"AAAA", "readv_at names the slot");
        let (res, buf) = file.read_at(Vec::with_capacity(4), 0).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"AAAA", "read_at names the slot");
    });
}
