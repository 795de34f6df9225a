//! Copies a file with a queue depth of reads and writes in flight, like
//! liburing's `io_uring-cp`.
//!
//! ```text
//! cargo run --release --example cp -- SRC DST [--qd N] [--bs BYTES] [--direct] [--fixed]
//! ```
//!
//! `N` tasks (default 32) each claim the next block of the source, read it
//! and write it at the same offset of the destination, so up to `N` ops are
//! in flight at once, all from one thread. `--direct` opens both files with
//! `O_DIRECT` (page-aligned buffers; the last block is written whole and the
//! destination truncated to size afterwards). `--fixed` uses a registered
//! buffer pool and registered files (`READ_FIXED`/`WRITE_FIXED`).

use ringloop::buf::{AlignedBuf, FixedBufPool, IoBuf};
use ringloop::fs::{File, FixedFiles};
use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Instant;

/// `O_DIRECT` alignment used for the tail block (covers 512 and 4096).
const ALIGN: usize = 4096;

struct Args {
    src: String,
    dst: String,
    qd: usize,
    bs: usize,
    direct: bool,
    fixed: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut paths = Vec::new();
    let (mut qd, mut bs, mut direct, mut fixed) = (32, 128 << 10, false, false);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            let value = args.next().ok_or(format!("{name} needs a value"))?;
            value
                .parse()
                .map_err(|_| format!("{name}: not a number: {value}"))
        };
        match arg.as_str() {
            "--qd" => qd = number("--qd")?.max(1),
            "--bs" => bs = number("--bs")?,
            "--direct" => direct = true,
            "--fixed" => fixed = true,
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            _ => paths.push(arg),
        }
    }
    if bs == 0 || (direct && bs % ALIGN != 0) {
        return Err(format!(
            "--bs must be positive (and a multiple of {ALIGN} with --direct)"
        ));
    }
    match <[String; 2]>::try_from(paths) {
        Ok([src, dst]) => Ok(Args {
            src,
            dst,
            qd,
            bs,
            direct,
            fixed,
        }),
        Err(_) => Err("usage: cp SRC DST [--qd N] [--bs BYTES] [--direct] [--fixed]".into()),
    }
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let rt = match ringloop::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cp: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let started = Instant::now();
    match rt.block_on(copy(&args)) {
        Ok(bytes) => {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "copied {bytes} bytes in {secs:.3} s ({:.1} MiB/s), qd {}, bs {}{}{}",
                bytes as f64 / secs / (1 << 20) as f64,
                args.qd,
                args.bs,
                if args.direct { ", O_DIRECT" } else { "" },
                if args.fixed {
                    ", fixed buffers and files"
                } else {
                    ""
                },
            );
            let stats = rt.stats();
            eprintln!(
                "{} ops in {} io_uring_enter calls",
                stats.ops_submitted, stats.enters
            );
        }
        Err(e) => {
            eprintln!("cp: {e}");
            std::process::exit(1);
        }
    }
}

async fn copy(args: &Args) -> io::Result<u64> {
    let flags = if args.direct { libc::O_DIRECT } else { 0 };
    let mut src = File::options()
        .read(true)
        .custom_flags(flags)
        .open(&args.src)
        .await?;
    let mut dst = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(flags)
        .open(&args.dst)
        .await?;
    let len = src.metadata().await?.len();
    if len > 0 {
        // Reserve the space up front; not every file system can.
        match dst.fallocate(0, len, 0).await {
            Err(e) if e.kind() != io::ErrorKind::Unsupported => return Err(e),
            _ => {}
        }
    }
    let _table = if args.fixed {
        let table = FixedFiles::new(2)?;
        src.register(&table)?;
        dst.register(&table)?;
        Some(table)
    } else {
        None
    };
    let pool = if args.fixed {
        Some(FixedBufPool::new(args.qd, args.bs)?)
    } else {
        None
    };
    let job = Rc::new(Job {
        src,
        dst,
        len,
        bs: args.bs as u64,
        direct: args.direct,
        next: Cell::new(0),
    });
    let workers: Vec<_> = (0..args.qd)
        .map(|_| {
            let job = Rc::clone(&job);
            let pool = pool.clone();
            ringloop::spawn(async move {
                match pool {
                    Some(pool) => job.run_fixed(&pool).await,
                    None => job.run_aligned().await,
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    // With O_DIRECT the tail block was written whole: cut it back.
    job.dst.set_len(len).await?;
    job.dst.sync_all().await?;
    if let Ok(job) = Rc::try_unwrap(job) {
        job.dst.close().await?;
    }
    Ok(len)
}

/// The copy shared by the worker tasks.
struct Job {
    src: File,
    dst: File,
    len: u64,
    bs: u64,
    direct: bool,
    /// Offset of the next block nobody has claimed.
    next: Cell<u64>,
}

impl Job {
    /// The next block: its offset and how many bytes to copy.
    fn claim(&self) -> Option<(u64, usize)> {
        let off = self.next.get();
        if off >= self.len {
            return None;
        }
        self.next.set(off + self.bs);
        Some((off, (self.len - off).min(self.bs) as usize))
    }

    /// Bytes to ask for / write for a block of `n` bytes: all of a block
    /// under `O_DIRECT` (which moves whole aligned blocks only).
    fn io_len(&self, n: usize) -> usize {
        if self.direct {
            n.div_ceil(ALIGN) * ALIGN
        } else {
            n
        }
    }

    async fn run_aligned(&self) -> io::Result<()> {
        let mut buf = AlignedBuf::new(self.bs as usize)?;
        while let Some((off, want)) = self.claim() {
            buf.clear();
            let ask = self.io_len(want);
            let mut got = 0;
            while got < want {
                let (res, slice) = self
                    .src
                    .read_at(buf.slice(got..ask), off + got as u64)
                    .await;
                buf = slice.into_inner();
                match res? {
                    0 => break, // the source shrank meanwhile
                    n => got += n,
                }
                if self.direct {
                    break; // short only at the end of the file
                }
            }
            buf.truncate(got);
            buf.resize(self.io_len(got), 0)?;
            let (res, back) = self.dst.write_all_at(buf, off).await;
            buf = back;
            res?;
        }
        Ok(())
    }

    async fn run_fixed(&self, pool: &FixedBufPool) -> io::Result<()> {
        let mut buf = pool.next().await;
        while let Some((off, want)) = self.claim() {
            buf.clear();
            let ask = self.io_len(want);
            let (res, slice) = self.src.read_fixed_at(buf.slice(0..ask), off).await;
            buf = slice.into_inner();
            let got = res?.min(want);
            buf.truncate(got);
            buf.resize(self.io_len(got), 0)?;
            let mut done = 0;
            while done < buf.len() {
                let end = buf.len();
                let (res, slice) = self
                    .dst
                    .write_fixed_at(buf.slice(done..end), off + done as u64)
                    .await;
                buf = slice.into_inner();
                match res? {
                    0 => return Err(io::ErrorKind::WriteZero.into()),
                    n => done += n,
                }
            }
        }
        Ok(())
    }
}
