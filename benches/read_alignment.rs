//! Where a read's buffer starts, and what that does to a read from the page
//! cache: `File::read_at` of 4 KiB, 64 KiB and 1 MiB blocks at random
//! offsets of a 64 MiB file that is in the page cache, one read in flight,
//! into a page-aligned buffer and into the same buffer 16 and 64 bytes
//! further on. 16 bytes past a page (or a 64-byte) boundary is where glibc
//! puts a large `Vec<u8>`'s first byte.
//!
//! The read is the kernel copying from page-cache pages into the buffer;
//! on some CPUs that copy is much slower for some destination offsets, and
//! no runtime can make up for it. This bench shows whether this machine is
//! one of them: the ratios printed are reads per second into the aligned
//! buffer over reads per second at each offset. It is why the benchmark
//! suite (`benches/compare`, `fileread`) gives every peer page-aligned
//! buffers, and why the `fs` docs suggest `AlignedBuf` for large reads.
//!
//! `cargo bench --bench read_alignment` (`BENCH_QUICK=1` for a short run).
//! The file goes to `/var/tmp` (`BENCH_DIR` to change) and is removed at
//! the end.

mod common;

use common::{header, interleave, pin, print_ratio, print_table, quick, Case};
use ringloop::buf::{AlignedBuf, IoBuf};
use ringloop::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

const FILE_SIZE: u64 = 64 << 20;

/// Reads per second: `n` random `bs`-byte reads into a page-aligned buffer
/// `offset` bytes further on.
fn reads(path: &Path, bs: usize, offset: usize, n: u64) -> f64 {
    let rt = ringloop::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let file = File::open(path).await.expect("open");
        let buf = AlignedBuf::new(bs + 4096).expect("buffer");
        let mut window = buf.slice(offset..offset + bs);
        let blocks = FILE_SIZE / bs as u64;
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let started = Instant::now();
        for _ in 0..n {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (res, w) = file.read_at(window, (x % blocks) * bs as u64).await;
            assert_eq!(res.expect("read"), bs, "short read");
            window = w;
        }
        n as f64 / started.elapsed().as_secs_f64()
    })
}

fn scratch_file() -> PathBuf {
    let dir = std::env::var_os("BENCH_DIR").map_or_else(|| PathBuf::from("/var/tmp"), Into::into);
    let path = dir.join(format!("ringloop-read-alignment.{}", std::process::id()));
    let mut f = std::fs::File::create(&path).expect("create the bench file");
    let mut block = vec![0u8; 1 << 20];
    let mut x: u64 = 1;
    for _ in 0..FILE_SIZE >> 20 {
        for b in block.iter_mut() {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            *b = (x >> 56) as u8;
        }
        f.write_all(&block).expect("write the bench file");
    }
    drop(f);
    // In the page cache from here on: read it whole once.
    let _ = std::fs::read(&path).expect("read the bench file");
    path
}

fn main() {
    pin();
    let path = scratch_file();
    header("Page-cache reads by buffer offset (reads per second, one in flight)");
    for (bs, label, n) in [
        (4 << 10, "4 KiB", 200_000u64),
        (64 << 10, "64 KiB", 20_000),
        (1 << 20, "1 MiB", 2_000),
    ] {
        let n = if quick() { n / 4 } else { n };
        let p = path.as_path();
        let mut cases = [
            Case {
                name: "page-aligned",
                run: Box::new(move || reads(p, bs, 0, n)),
            },
            Case {
                name: "page + 16 bytes",
                run: Box::new(move || reads(p, bs, 16, n)),
            },
            Case {
                name: "page + 64 bytes",
                run: Box::new(move || reads(p, bs, 64, n)),
            },
        ];
        let summaries = interleave(&mut cases);
        print_table(&format!("{label} reads"), "reads/s", &summaries);
        print_ratio(&summaries, "page-aligned", "page + 16 bytes");
        print_ratio(&summaries, "page-aligned", "page + 64 bytes");
    }
    let _ = std::fs::remove_file(&path);
}
