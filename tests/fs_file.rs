//! `fs::File`: positional reads and writes, their edges (EOF, short reads,
//! holes), vectored I/O, sizes and metadata, and errors as `io::Error`s.

mod common;
mod fs_common;

use fs_common::{pattern, run, scratch_file, TempDir};
use ringloop::buf::IoBuf;
use ringloop::fs::{self, File, OpenOptions};
use std::io::ErrorKind;

#[test]
fn round_trips_at_odd_offsets_and_sizes_return_the_same_bytes() {
    let dir = TempDir::new("odd");
    let path = dir.join("f");
    run(10, move || async move {
        let file = scratch_file(&path).await;
        let cases = [
            (0u64, 1usize),
            (1, 7),
            (4093, 4099),
            (12_345, 65_537),
            (1_000_003, 300_001),
        ];
        for &(offset, size) in &cases {
            let data = pattern(size, offset as usize);
            let (res, _) = file.write_all_at(data, offset).await;
            res.unwrap();
        }
        for &(offset, size) in &cases {
            let (res, buf) = file.read_exact_at(Vec::with_capacity(size), offset).await;
            res.unwrap();
            assert!(
                buf == pattern(size, offset as usize),
                "bytes at {offset}+{size} differ"
            );
        }
    });
}

#[test]
fn a_write_past_the_end_leaves_a_hole_that_reads_as_zeros_and_takes_no_space() {
    let dir = TempDir::new("sparse");
    let path = dir.join("f");
    run(10, move || async move {
        let file = scratch_file(&path).await;
        let far = 1 << 30;
        let (res, _) = file.write_all_at(vec![7u8; 4096], far).await;
        res.unwrap();
        let meta = file.metadata().await.unwrap();
        assert_eq!(meta.len(), far + 4096);
        assert!(
            meta.blocks() * 512 < 1 << 20,
            "a 1 GiB hole must not be allocated ({} blocks)",
            meta.blocks()
        );
        let (res, hole) = file.read_exact_at(Vec::with_capacity(8192), far / 2).await;
        res.unwrap();
        assert!(hole.iter().all(|&b| b == 0), "a hole reads as zeros");
        let (res, tail) = file.read_exact_at(Vec::with_capacity(4096), far).await;
        res.unwrap();
        assert!(tail.iter().all(|&b| b == 7));
    });
}

#[test]
fn a_read_at_or_past_the_end_returns_zero_bytes() {
    let dir = TempDir::new("eof");
    let path = dir.join("f");
    std::fs::write(&path, pattern(100, 0)).unwrap();
    run(10, move || async move {
        let file = File::open(&path).await.unwrap();
        for pos in [100, 101, 1 << 40] {
            let (res, buf) = file.read_at(Vec::with_capacity(64), pos).await;
            assert_eq!(res.unwrap(), 0, "EOF at {pos}");
            assert!(buf.is_empty());
        }
    });
}

#[test]
fn a_read_across_the_end_is_short_and_sets_only_the_bytes_read() {
    let dir = TempDir::new("short");
    let path = dir.join("f");
    std::fs::write(&path, pattern(100, 0)).unwrap();
    run(10, move || async move {
        let file = File::open(&path).await.unwrap();
        let (res, buf) = file.read_at(Vec::with_capacity(4096), 60).await;
        assert_eq!(res.unwrap(), 40);
        assert_eq!(buf, pattern(100, 0)[60..]);

        // Into the middle of a buffer: a slice fills only its range.
        let (res, slice) = file.read_at(vec![0xAAu8; 10].slice(5..10), 0).await;
        assert_eq!(res.unwrap(), 5);
        assert_eq!(
            slice.into_inner(),
            [0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0, 1, 2, 3, 4]
        );
    });
}

#[test]
fn read_exact_at_past_the_end_is_unexpected_eof_and_keeps_what_it_read() {
    let dir = TempDir::new("exact");
    let path = dir.join("f");
    std::fs::write(&path, pattern(100, 0)).unwrap();
    run(10, move || async move {
        let file = File::open(&path).await.unwrap();
        let (res, buf) = file.read_exact_at(Vec::with_capacity(64), 90).await;
        let err = res.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        assert!(
            err.to_string().contains("10 bytes into a read of 64"),
            "{err}"
        );
        assert_eq!(buf, pattern(100, 0)[90..]);
    });
}

#[test]
fn vectored_io_fills_and_drains_buffers_in_order() {
    let dir = TempDir::new("vectored");
    let path = dir.join("f");
    run(10, move || async move {
        let file = scratch_file(&path).await;
        let parts = vec![pattern(3, 0), pattern(5000, 3), pattern(1, 5003)];
        let (res, _) = file.writev_at(parts, 777).await;
        assert_eq!(res.unwrap(), 5004);
        let bufs = vec![
            Vec::with_capacity(2),
            Vec::with_capacity(4096),
            Vec::with_capacity(9000),
        ];
        let (res, bufs) = file.readv_at(bufs, 777).await;
        assert_eq!(res.unwrap(), 5004);
        assert_eq!(bufs[0], pattern(2, 0));
        assert_eq!(bufs[1], pattern(4096, 2));
        assert_eq!(
            bufs[2],
            pattern(5004 - 4098, 4098),
            "the last buffer gets the rest, short"
        );
    });
}

#[test]
fn set_len_truncates_or_extends_and_fallocate_reserves_space() {
    let dir = TempDir::new("len");
    let path = dir.join("f");
    run(10, move || async move {
        let file = scratch_file(&path).await;
        file.write_all_at(pattern(10_000, 0), 0).await.0.unwrap();
        file.set_len(100).await.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), 100);
        file.set_len(1 << 20).await.unwrap();
        let meta = file.metadata().await.unwrap();
        assert_eq!(meta.len(), 1 << 20);
        let (res, buf) = file.read_exact_at(Vec::with_capacity(200), 0).await;
        res.unwrap();
        assert_eq!(buf[..100], pattern(100, 0)[..], "truncation keeps the head");
        assert!(
            buf[100..].iter().all(|&b| b == 0),
            "extension reads as zeros"
        );

        let blocks_before = file.metadata().await.unwrap().blocks();
        file.fallocate(1 << 20, 1 << 20, libc::FALLOC_FL_KEEP_SIZE)
            .await
            .unwrap();
        let meta = file.metadata().await.unwrap();
        assert_eq!(meta.len(), 1 << 20, "KEEP_SIZE does not grow the file");
        assert!(
            meta.blocks() >= blocks_before + 2048,
            "1 MiB allocated: {} blocks",
            meta.blocks()
        );
        file.fallocate(0, 3 << 20, 0).await.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), 3 << 20);
    });
}

#[test]
fn metadata_tells_files_from_directories_and_reports_size_mode_and_times() {
    let dir = TempDir::new("meta");
    let path = dir.join("f");
    std::fs::write(&path, b"12345").unwrap();
    let dir_path = dir.path().to_path_buf();
    run(10, move || async move {
        let file = File::open(&path).await.unwrap();
        let meta = file.metadata().await.unwrap();
        let std_meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 5);
        assert!(meta.is_file() && !meta.is_dir() && !meta.is_symlink());
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.ino(), std_meta.ino());
        assert_eq!(meta.dev(), std_meta.dev());
        assert_eq!(meta.mode(), std_meta.mode());
        assert_eq!(meta.modified().unwrap(), std_meta.modified().unwrap());
        let by_path = fs::metadata(&dir_path).await.unwrap();
        assert!(by_path.is_dir() && !by_path.is_file());
    });
}

#[test]
fn bad_arguments_are_invalid_input_errors_not_panics() {
    let dir = TempDir::new("badargs");
    let path = dir.join("f");
    std::fs::write(&path, b"x").unwrap();
    run(10, move || async move {
        let err = File::open("/tmp/nul\0byte").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("NUL"), "{err}");

        let err = OpenOptions::new().open(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "no access mode");
        let err = OpenOptions::new()
            .read(true)
            .create(true)
            .open(&path)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "create without write");

        let file = File::open(&path).await.unwrap();
        let (res, _) = file.read_at(Vec::with_capacity(8), u64::MAX).await;
        assert_eq!(
            res.unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "offset -1"
        );
        let (res, _) = file.write_at(vec![1u8], 1 << 63).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(
            file.set_len(u64::MAX).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let err = file.fallocate(i64::MAX as u64, 2, 0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let (res, bufs) = file
            .readv_at((0..2000).map(|_| Vec::<u8>::with_capacity(1)).collect(), 0)
            .await;
        assert_eq!(
            res.unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "more than UIO_MAXIOV"
        );
        assert_eq!(bufs.len(), 2000, "the buffers come back");
    });
}

#[test]
fn a_missing_path_is_not_found() {
    let dir = TempDir::new("enoent");
    let missing = dir.join("missing");
    run(10, move || async move {
        let kind = |r: std::io::Result<()>| r.unwrap_err().kind();
        assert_eq!(
            File::open(&missing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::metadata(&missing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(kind(fs::remove_file(&missing).await), ErrorKind::NotFound);
        assert_eq!(
            kind(fs::rename(&missing, missing.with_extension("x")).await),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(fs::create_dir(missing.join("a")).await),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::read(&missing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let err = File::create(missing.join("f")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "the parent is missing");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "the errno is kept");
    });
}

#[test]
fn a_directory_used_as_a_file_is_is_a_directory() {
    let dir = TempDir::new("eisdir");
    let path = dir.path().to_path_buf();
    run(10, move || async move {
        assert_eq!(
            File::create(&path).await.unwrap_err().kind(),
            ErrorKind::IsADirectory
        );
        let as_file = File::open(&path).await.unwrap(); // O_RDONLY on a directory is allowed
        let (res, buf) = as_file.read_at(Vec::with_capacity(16), 0).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::IsADirectory);
        assert!(buf.is_empty(), "nothing was read");
        assert_eq!(
            fs::read(&path).await.unwrap_err().kind(),
            ErrorKind::IsADirectory
        );
        assert_eq!(
            fs::remove_file(&path).await.unwrap_err().kind(),
            ErrorKind::IsADirectory
        );
    });
}

#[test]
fn writing_a_read_only_file_fails_and_writes_nothing() {
    let dir = TempDir::new("ebadf");
    let path = dir.join("f");
    std::fs::write(&path, b"keep").unwrap();
    let check = path.clone();
    run(10, move || async move {
        let file = File::open(&path).await.unwrap();
        let (res, _) = file.write_at(b"overwrite".to_vec(), 0).await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EBADF));
        assert!(file.sync_all().await.is_ok());
        assert!(
            file.set_len(0).await.is_err(),
            "truncating needs write access"
        );
    });
    assert_eq!(std::fs::read(check).unwrap(), b"keep");
}

#[test]
fn a_file_from_std_works_on_the_ring() {
    let dir = TempDir::new("fromstd");
    let path = dir.join("f");
    let std_file = std::fs::File::create(&path).unwrap();
    let check = path.clone();
    run(10, move || async move {
        let file = File::from_std(std_file);
        file.write_all_at(b"from std".to_vec(), 0).await.0.unwrap();
        file.close().await.unwrap();
    });
    assert_eq!(std::fs::read(check).unwrap(), b"from std");
}

#[test]
fn file_ops_go_through_the_ring_as_sqes() {
    use ringloop::trace::Event;
    use std::cell::RefCell;
    use std::rc::Rc;
    let dir = TempDir::new("sqes");
    let path = dir.join("f");
    let ops = common::watchdog(10, move || {
        let seen: Rc<RefCell<Vec<&'static str>>> = Rc::default();
        let log = seen.clone();
        let rt = ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .on_event(move |e| {
                if let Event::SqePushed { op, .. } = e {
                    log.borrow_mut().push(op);
                }
            })
            .build()
            .unwrap();
        rt.block_on(async {
            let file = File::create(&path).await.unwrap();
            file.write_all_at(b"abc".to_vec(), 0).await.0.unwrap();
            file.sync_data().await.unwrap();
            file.metadata().await.unwrap();
            file.set_len(1).await.unwrap();
            file.close().await.unwrap();
            fs::rename(&path, path.with_extension("b")).await.unwrap();
            fs::remove_file(path.with_extension("b")).await.unwrap();
        });
        let ops = seen.borrow().clone();
        ops
    });
    let expected = [
        "openat",
        "write",
        "fsync",
        "statx",
        "ftruncate",
        "close",
        "renameat",
        "unlinkat",
    ];
    for op in expected {
        assert!(ops.contains(&op), "no `{op}` SQE in {ops:?}");
    }
}
