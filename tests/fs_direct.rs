//! `O_DIRECT`: aligned I/O round trips; misaligned I/O fails with an error
//! that says what alignment is needed.
//!
//! tmpfs has no `O_DIRECT`, so these tests use a directory under `/var/tmp`
//! (or `$RINGLOOP_DIRECT_DIR`) and are skipped, saying why, if its file
//! system refuses `O_DIRECT` at open.

mod common;
mod fs_common;

use fs_common::{pattern, run_uring as run, TempDir};
use ringloop::buf::{AlignedBuf, FixedBufPool, IoBuf};
use ringloop::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

fn direct_dir(tag: &str) -> TempDir {
    let base = std::env::var_os("RINGLOOP_DIRECT_DIR")
        .map_or_else(|| PathBuf::from("/var/tmp"), PathBuf::from);
    TempDir::under(&base, tag)
}

/// Opens `path` with `O_DIRECT` for reading and writing, or says why the
/// file system cannot and returns `None`.
async fn open_direct(path: &Path) -> Option<File> {
    let opened = File::options()
        .read(true)
        .write(true)
        .create(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .await;
    match opened {
        Ok(file) => Some(file),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            eprintln!("SKIPPED: the file system of {path:?} refuses O_DIRECT ({e})");
            None
        }
        Err(e) => panic!("open with O_DIRECT: {e}"),
    }
}

fn aligned_with(data: &[u8]) -> AlignedBuf {
    let mut buf = AlignedBuf::new(data.len()).unwrap();
    buf.extend_from_slice(data).unwrap();
    buf
}

#[test]
fn aligned_direct_io_round_trips_with_aligned_and_fixed_buffers() {
    let dir = direct_dir("direct");
    let path = dir.join("f");
    run(10, move || async move {
        let Some(file) = open_direct(&path).await else {
            return;
        };
        let data = pattern(16384, 3);
        let (res, _) = file.write_all_at(aligned_with(&data), 4096).await;
        res.unwrap();
        let (res, back) = file
            .read_exact_at(AlignedBuf::new(16384).unwrap(), 4096)
            .await;
        res.unwrap();
        assert!(back[..] == data[..]);

        let pool = FixedBufPool::new(2, 8192).unwrap();
        let (res, buf) = file.read_fixed_at(pool.try_next().unwrap(), 8192).await;
        assert_eq!(res.unwrap(), 8192);
        assert!(
            buf[..] == data[4096..12288],
            "pool buffers are page-aligned"
        );

        let meta = file.metadata().await.unwrap();
        if let (Some(mem), Some(off)) = (meta.dio_mem_align(), meta.dio_offset_align()) {
            assert!(mem > 0 && off > 0 && 4096 % off == 0, "{mem} {off}");
        }
    });
}

#[test]
fn misaligned_direct_io_is_an_invalid_input_error_naming_the_alignment() {
    let dir = direct_dir("misaligned");
    let path = dir.join("f");
    run(10, move || async move {
        let Some(file) = open_direct(&path).await else {
            return;
        };
        let data = pattern(16384, 0);
        file.write_all_at(aligned_with(&data), 0).await.0.unwrap();
        let knows_alignment = file.metadata().await.unwrap().dio_offset_align().is_some();
        let check = |err: std::io::Error, what: &str| {
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{what}: {err}");
            let msg = err.to_string();
            assert!(
                msg.contains("O_DIRECT") && msg.contains("aligned"),
                "{what}: {msg}"
            );
            assert!(
                msg.contains("AlignedBuf"),
                "{what}: the message says what to use: {msg}"
            );
            if knows_alignment {
                assert!(msg.contains("this file needs"), "{what}: {msg}");
            }
        };

        let misaligned_buf = AlignedBuf::new(8192).unwrap().slice(1..4097);
        let (res, _) = file.read_at(misaligned_buf, 0).await;
        check(res.unwrap_err(), "buffer address + 1");

        let (res, _) = file.read_at(AlignedBuf::new(4096).unwrap(), 100).await;
        let err = res.unwrap_err();
        eprintln!("{err}");
        check(err, "offset 100");

        let (res, _) = file.read_at(AlignedBuf::new(1000).unwrap(), 0).await;
        check(res.unwrap_err(), "length 1000");

        let (res, _) = file.write_at(aligned_with(&[0xFF; 4096]), 10).await;
        check(res.unwrap_err(), "write at offset 10");
        let (res, _) = file.write_all_at(aligned_with(&[0xFF; 100]), 0).await;
        check(res.unwrap_err(), "write of 100 bytes");

        let (res, back) = file.read_exact_at(AlignedBuf::new(16384).unwrap(), 0).await;
        res.unwrap();
        assert!(back[..] == data[..], "the refused writes wrote nothing");
    });
}

#[test]
fn buffered_files_keep_the_kernels_plain_einval() {
    let dir = TempDir::new("plaineinval");
    let path = dir.join("f");
    std::fs::write(&path, b"x").unwrap();
    run(10, move || async move {
        // A negative length is EINVAL on any file; without O_DIRECT it is
        // not explained as an alignment problem.
        let file = File::options().write(true).open(&path).await.unwrap();
        let err = file.fallocate(0, 0, 0).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        assert!(!err.to_string().contains("O_DIRECT"));
    });
}
