//! Lengths and offsets beyond 32 bits: one SQE carries a 32-bit length, so a
//! buffer over 4 GiB must not become a short (or zero-length, EOF-looking)
//! read; offsets above `u32::MAX` must reach the kernel intact.
//!
//! The full 4 GiB + 4 KiB read touches 4 GiB of memory and takes a few
//! seconds: it runs when `RINGLOOP_BIG_TESTS=1`. The default variant hands
//! the kernel a buffer whose capacity is above `u32::MAX` (the case that
//! truncates) while touching only a few MiB.

mod common;
mod fs_common;

use fs_common::{pattern, run, scratch_file, TempDir};
use ringloop::fs::File;
use std::time::Instant;

const FOUR_GIB: u64 = 1 << 32;

#[test]
fn a_buffer_with_capacity_over_4_gib_is_not_truncated_to_32_bits() {
    let dir = TempDir::new("capacity4g");
    let path = dir.join("f");
    let len = (3 << 20) + 3;
    std::fs::write(&path, pattern(len, 0)).unwrap();
    run(30, move || async move {
        let file = File::open(&path).await.unwrap();
        // (4 GiB + 4 KiB) as u32 is 4096: a truncating runtime reads 4096.
        let buf = Vec::with_capacity(FOUR_GIB as usize + 4096);
        let (res, buf) = file.read_at(buf, 0).await;
        assert_eq!(res.unwrap(), len);
        assert!(buf == pattern(len, 0));
    });
}

#[test]
fn offsets_above_u32_max_reach_the_kernel_intact() {
    let dir = TempDir::new("offset4g");
    let path = dir.join("f");
    run(30, move || async move {
        let file = scratch_file(&path).await;
        let at = FOUR_GIB + 4096 + 17;
        file.write_all_at(pattern(5000, 9), at).await.0.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), at + 5000);
        let (res, buf) = file.read_exact_at(Vec::with_capacity(5000), at).await;
        res.unwrap();
        assert!(buf == pattern(5000, 9));
        let (res, low) = file
            .read_exact_at(Vec::with_capacity(4096), at - FOUR_GIB)
            .await;
        res.unwrap();
        assert!(
            low.iter().all(|&b| b == 0),
            "the offset was not wrapped to 32 bits"
        );
    });
}

#[test]
fn a_read_of_more_than_4_gib_makes_progress_and_fills_the_buffer() {
    if std::env::var_os("RINGLOOP_BIG_TESTS").is_none() {
        eprintln!("SKIPPED: set RINGLOOP_BIG_TESTS=1 to read 4 GiB + 4 KiB into one buffer");
        return;
    }
    let dir = TempDir::new("read4g");
    let path = dir.join("f");
    let total = FOUR_GIB + 4096;
    run(120, move || async move {
        let file = scratch_file(&path).await;
        file.set_len(total).await.unwrap();
        file.write_all_at(pattern(4096, 5), total - 4096)
            .await
            .0
            .unwrap();
        let buf = Vec::with_capacity(total as usize);
        let started = Instant::now();
        let (res, buf) = file.read_at(buf, 0).await;
        assert_eq!(res.unwrap() as u64, total, "one call fills all of it");
        eprintln!("read {total} bytes in {:?}", started.elapsed());
        assert!(buf[..4096].iter().all(|&b| b == 0));
        assert!(buf[buf.len() - 4096..] == pattern(4096, 5)[..]);
    });
}
