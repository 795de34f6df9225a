//! File scenarios: `fileread` (random 4 KiB reads at queue depth 32,
//! `O_DIRECT` and from the page cache), `fileread-sweep` (buffered reads
//! against a blocking `pread` loop across queue depths and block sizes) and
//! `cp` (`examples/cp.rs` against coreutils `cp` on a 1 GiB file).
//!
//! # The data
//!
//! One 256 MiB file of pseudo-random bytes (and, for `cp`, a 1 GiB source),
//! created once per invocation of the suite in a scratch folder under
//! `/var/tmp` (a disk file system that takes `O_DIRECT`; `/tmp` may be a
//! tmpfs, which does not). The parent sets `RINGLOOP_COMPARE_SCRATCH` to
//! `/var/tmp/ringloop-compare.<pid>` and removes the folder at the end; the
//! first child that needs a file writes it (untimed: before its runtime is
//! built), `fsync`s it and renames it into place.
//!
//! # A read
//!
//! Every reader (task, fio job) picks offsets uniformly at random among the
//! block-aligned offsets of the file, each task with its own xorshift
//! generator, and reads one block there. The checksum of a pass is the
//! number of reads that returned a whole block: it must equal the number
//! asked for. The `direct` case opens the file with `O_DIRECT` and reads
//! into block-aligned memory; the `buffered` case (and the sweep) reads
//! through the page cache, which the child fills first by reading the whole
//! file once, untimed (fio runs with `--invalidate=0` so it keeps it).
//!
//! # Buffers
//!
//! Every reader reads into page-aligned memory (fio's default too), in both
//! cases. Where a buffer starts matters to the kernel's copy out of the page
//! cache on some CPUs: on the 2-core AMD EPYC guest the suite was developed
//! on, a destination 16 bytes past a page boundary (where glibc puts a large
//! `Vec`) made 1 MiB reads 2.27x and 64 KiB reads 1.35x slower than a
//! page-aligned one, 4 KiB reads 1.04x (`cargo bench --bench
//! read_alignment`, 2026-11-25 21:12 UTC, 5 rounds, medians). With plain
//! `Vec`s, a peer's figure
//! depended on where its heap happened to put the buffers — even on the
//! length of the scratch folder's name, which shifts the heap: the "1 MiB
//! reads at queue depth 4" case showed ringloop at 0.73x tokio-uring for
//! that reason alone, and at par once both read into aligned memory.
//!
//! # Peers
//!
//! * `ringloop`: `qd` tasks, each awaiting `File::read_at` in a loop with its
//!   own `AlignedBuf`, on a default runtime: the file becomes a hot file
//!   during the warm-up (`Builder::hot_files`), so the timed reads name it
//!   by its slot in the runtime's own fixed-file table.
//! * `ringloop-fd`: the same with hot files off (`hot_files(0)`): every read
//!   names the fd, which the kernel looks up and reference-counts per op.
//! * `ringloop-regfile`: the same with the file in a `FixedFiles` table
//!   registered before the first read.
//! * `ringloop-each-op`: `ringloop` on a runtime built with
//!   `Builder::submit_each_op(true)`: one `io_uring_enter` per read, as
//!   fio's io_uring engine does by default, instead of one per park.
//! * `ringloop-fixed`: `File::read_fixed_at`, a `FixedBufPool` of `qd`
//!   registered buffers and the file in a `FixedFiles` table.
//! * `tokio-uring`: `qd` tasks awaiting `tokio_uring::fs::File::read_at`
//!   into a page-aligned window of a larger `Vec`.
//! * `tokio-fs`: tokio's blocking-pool model on a current-thread runtime:
//!   `qd` tasks, each read a `spawn_blocking` of `std`'s
//!   `FileExt::read_at` (`pread`). This is what `tokio::fs` does inside,
//!   minus its cursor: `tokio::fs::File` has no positional read, and
//!   seek + read would be two trips to the pool per read.
//! * `fio-io_uring`: `fio --ioengine=io_uring --iodepth=QD` with its default
//!   options otherwise (one job; fio's own IOPS from `--output-format=json`).
//! * `fio-psync`: `fio --ioengine=psync`, a blocking `pread` loop in one
//!   job: always queue depth 1, whatever the case's depth.
//!
//! In `cp`, each timed copy starts on a fresh destination, right after an
//! untimed copy by the same peer was deleted (see `time_copy`); the source
//! is in the page cache (read whole, untimed); nothing is dropped from the
//! page cache (the copy's pages go when the copy is deleted, after the
//! run).
//!
//! Every child, and so every fio or blocking-pool thread it starts, runs
//! pinned to the suite's CPU. A missing `fio` is reported as skipped with
//! the command that installs it (`ci/install-bench-tools.sh`).

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::local::scratch_dir;
use super::{
    measure, record, record_cpu, record_ringloop_syscalls, share, Case, Job, Metric, Outcome, Peer,
    Sample, Scenario, Skip,
};
use crate::metric::CpuTime;

/// Size of the file the reads go to.
const FILE_SIZE: u64 = 256 << 20;
const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

pub const SCENARIO: Scenario = Scenario {
    name: "fileread",
    about: "random reads of a 256 MiB file, 4 KiB, queue depth 32, O_DIRECT and page cache",
    unit: "reads",
    cases: &[
        Case {
            id: "direct",
            title: "{n} random 4 KiB reads, O_DIRECT, queue depth 32",
            concurrency: 32,
            n: 100_000,
            n_quick: 40_000,
        },
        Case {
            id: "buffered",
            title: "{n} random 4 KiB reads, page cache (warm), queue depth 32",
            concurrency: 32,
            n: 1_500_000,
            n_quick: 300_000,
        },
    ],
    peers: &[
        Peer {
            name: "ringloop",
            run: ringloop,
        },
        Peer {
            name: "ringloop-fixed",
            run: ringloop_fixed,
        },
        Peer {
            name: "ringloop-regfile",
            run: ringloop_regfile,
        },
        Peer {
            name: "ringloop-fd",
            run: ringloop_fd,
        },
        Peer {
            name: "ringloop-each-op",
            run: ringloop_each_op,
        },
        Peer {
            name: "tokio-uring",
            run: tokio_uring,
        },
        Peer {
            name: "tokio-fs",
            run: tokio_fs,
        },
        Peer {
            name: "fio-io_uring",
            run: fio_io_uring,
        },
        Peer {
            name: "fio-psync",
            run: fio_psync,
        },
    ],
    // Seconds per run (`run_secs`), measured: one full round on 2 cores.
    run_secs: |_, quick| if quick { 0.6 } else { 2.9 },
};

/// Buffered reads against `pread`: queue depth x block size. The case id
/// is `qdQ-SIZE`; its concurrency is the queue depth.
pub const SWEEP: Scenario = Scenario {
    name: "fileread-sweep",
    about: "page-cache random reads, queue depth 1/4/32 x block 4 KiB/64 KiB/1 MiB, vs psync",
    unit: "reads",
    cases: &[
        sweep_case(
            "qd1-4k",
            "{n} random 4 KiB reads, page cache, queue depth 1",
            1,
            200_000,
            80_000,
        ),
        sweep_case(
            "qd4-4k",
            "{n} random 4 KiB reads, page cache, queue depth 4",
            4,
            200_000,
            80_000,
        ),
        sweep_case(
            "qd32-4k",
            "{n} random 4 KiB reads, page cache, queue depth 32",
            32,
            200_000,
            80_000,
        ),
        sweep_case(
            "qd1-64k",
            "{n} random 64 KiB reads, page cache, queue depth 1",
            1,
            40_000,
            15_000,
        ),
        sweep_case(
            "qd4-64k",
            "{n} random 64 KiB reads, page cache, queue depth 4",
            4,
            40_000,
            15_000,
        ),
        sweep_case(
            "qd32-64k",
            "{n} random 64 KiB reads, page cache, queue depth 32",
            32,
            40_000,
            15_000,
        ),
        sweep_case(
            "qd1-1m",
            "{n} random 1 MiB reads, page cache, queue depth 1",
            1,
            4_000,
            1_500,
        ),
        sweep_case(
            "qd4-1m",
            "{n} random 1 MiB reads, page cache, queue depth 4",
            4,
            4_000,
            1_500,
        ),
        sweep_case(
            "qd32-1m",
            "{n} random 1 MiB reads, page cache, queue depth 32",
            32,
            4_000,
            1_500,
        ),
    ],
    peers: &[
        Peer {
            name: "ringloop",
            run: ringloop,
        },
        Peer {
            name: "tokio-uring",
            run: tokio_uring,
        },
        Peer {
            name: "fio-psync",
            run: fio_psync,
        },
    ],
    // Seconds per run (`run_secs`), measured: one full round on 2 cores.
    run_secs: |_, quick| if quick { 0.3 } else { 0.8 },
};

/// A sweep case: `n` (and `n_quick`) sized so that a pass takes a few
/// tenths of a second at page-cache speed.
const fn sweep_case(
    id: &'static str,
    title: &'static str,
    qd: usize,
    n: u64,
    n_quick: u64,
) -> Case {
    Case {
        id,
        title,
        concurrency: qd,
        n,
        n_quick,
    }
}

/// `examples/cp.rs` against coreutils `cp` (each followed by an fsync of
/// the copy, since the example ends with one).
pub const CP: Scenario = Scenario {
    name: "cp",
    about: "copy a 1 GiB file: examples/cp.rs (buffered and --direct) vs coreutils cp + sync",
    unit: "bytes",
    cases: &[Case {
        id: "cp",
        title: "copy of a {n}-byte file (source in the page cache), fsync included",
        concurrency: 32,
        n: 1 << 30,
        n_quick: 64 << 20,
    }],
    peers: &[
        Peer {
            name: "ringloop",
            run: ringloop_cp,
        },
        Peer {
            name: "ringloop-direct",
            run: ringloop_cp_direct,
        },
        Peer {
            name: "coreutils-cp",
            run: coreutils_cp,
        },
    ],
    // Seconds per run: about 60 s per GiB copied (one full round, an untimed
    // and a timed copy per peer, 2 cores).
    run_secs: |n, _| 1.0 + 60.0 * n as f64 / f64::from(1 << 30),
};

/// What one case of the read scenarios asks for.
#[derive(Clone, Copy, Debug)]
struct Params {
    direct: bool,
    /// Block size of each read.
    bs: usize,
    /// Reads in flight (tasks, fio's iodepth).
    qd: usize,
}

impl Params {
    fn of(job: &Job) -> Params {
        let (direct, bs) = match job.case {
            "direct" => (true, 4 * KIB),
            "buffered" => (false, 4 * KIB),
            sweep => match sweep.rsplit_once('-').map(|(_, size)| size) {
                Some("4k") => (false, 4 * KIB),
                Some("64k") => (false, 64 * KIB),
                Some("1m") => (false, MIB),
                _ => panic!("fileread: unknown case {sweep}"),
            },
        };
        Params {
            direct,
            bs,
            qd: job.concurrency,
        }
    }

    fn blocks(&self) -> u64 {
        FILE_SIZE / self.bs as u64
    }

    fn flags(&self) -> i32 {
        if self.direct {
            libc::O_DIRECT
        } else {
            0
        }
    }
}

/// The checksum of a pass: every read returned a whole block.
fn count(n: u64) -> u64 {
    n
}

/// xorshift64*: cheap, and each task has its own.
struct Rng(u64);

impl Rng {
    fn new(task: usize) -> Rng {
        Rng((task as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A random block-aligned offset of the file.
    fn offset(&mut self, p: &Params) -> u64 {
        (self.next() % p.blocks()) * p.bs as u64
    }
}

/// The file of `size` pseudo-random bytes named `name` in the scratch
/// folder, written now if it is not there yet.
fn data_file(name: &str, size: u64) -> Result<PathBuf, Skip> {
    let dir = scratch_dir();
    let path = dir.join(name);
    if fs::metadata(&path).is_ok_and(|m| m.len() == size) {
        return Ok(path);
    }
    let fail = |e: io::Error| Skip::new(format!("cannot create {}: {e}", path.display()));
    fs::create_dir_all(&dir).map_err(fail)?;
    let tmp = dir.join(format!("{name}.tmp{}", std::process::id()));
    let mut f = fs::File::create(&tmp).map_err(fail)?;
    let mut rng = Rng::new(size as usize);
    let mut chunk = vec![0u8; MIB];
    let mut left = size;
    while left > 0 {
        for word in chunk.chunks_exact_mut(8) {
            word.copy_from_slice(&rng.next().to_le_bytes());
        }
        let n = left.min(MIB as u64) as usize;
        f.write_all(&chunk[..n]).map_err(fail)?;
        left -= n as u64;
    }
    f.sync_all().map_err(fail)?;
    fs::rename(&tmp, &path).map_err(fail)?;
    Ok(path)
}

/// The read scenarios' file, in the page cache unless `direct`.
fn read_file_for(p: &Params) -> Result<PathBuf, Skip> {
    let path = data_file("fileread-256MiB.dat", FILE_SIZE)?;
    if !p.direct {
        warm(&path).map_err(|e| Skip::new(format!("cannot read {}: {e}", path.display())))?;
    }
    Ok(path)
}

/// Reads the whole file once so that it is in the page cache.
fn warm(path: &Path) -> io::Result<()> {
    let mut f = fs::File::open(path)?;
    let mut buf = vec![0u8; MIB];
    while f.read(&mut buf)? > 0 {}
    Ok(())
}

/// A `Vec<u8>` and the start of a page-aligned window of `bs` bytes in it,
/// for the peers without an aligned buffer type.
fn aligned_vec(bs: usize) -> (Vec<u8>, usize) {
    let v = vec![0u8; 2 * bs];
    let start = v.as_ptr().align_offset(4096);
    (v, start)
}

/// ringloop's counters, as what they say per read.
fn ringloop_note(s: &ringloop::Stats) -> String {
    let ops = s.ops_submitted.max(1) as f64;
    format!(
        "{} ops, {} enters ({:.3} per op, {} waited), {:.1} CQEs per enter, {} tasks polled \
         ({:.2} per op), {} parks",
        s.ops_submitted,
        s.enters,
        s.enters as f64 / ops,
        s.waits,
        s.cqes_reaped as f64 / s.enters.max(1) as f64,
        s.tasks_polled,
        s.tasks_polled as f64 / ops,
        s.parks
    )
}

fn ringloop(job: &Job) -> Outcome {
    ringloop_plain(job, Naming::Default, false)
}

fn ringloop_fd(job: &Job) -> Outcome {
    ringloop_plain(job, Naming::Fd, false)
}

fn ringloop_regfile(job: &Job) -> Outcome {
    ringloop_plain(job, Naming::Registered, false)
}

fn ringloop_each_op(job: &Job) -> Outcome {
    ringloop_plain(job, Naming::Default, true)
}

/// How a `read_at` peer's SQEs name the file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Naming {
    /// The runtime's default: by fd for its first ops, then by its slot in
    /// the runtime's hot-file table (`Builder::hot_files`).
    Default,
    /// By fd, always (`Builder::hot_files(0)`).
    Fd,
    /// By its slot in a `FixedFiles` table registered before the first read.
    Registered,
}

/// `read_at` from `qd` tasks, the file named as `naming` says; `each_op`:
/// `Builder::submit_each_op`, one `io_uring_enter` per op (as fio's
/// io_uring engine does by default) instead of one per park.
fn ringloop_plain(job: &Job, naming: Naming, each_op: bool) -> Outcome {
    let p = Params::of(job);
    let path = read_file_for(&p)?;
    let mut builder = ringloop::Builder::new().submit_each_op(each_op);
    if naming == Naming::Fd {
        builder = builder.hot_files(0);
    }
    let rt = builder.build().map_err(Skip::build)?;
    let (sample, stats, named) = rt.block_on(async {
        let mut file = ringloop::fs::File::options()
            .read(true)
            .custom_flags(p.flags())
            .open(&path)
            .await
            .expect("ringloop: open failed");
        let table = if naming == Naming::Registered {
            let table = ringloop::fs::FixedFiles::new(1).expect("ringloop: FixedFiles");
            file.register(&table).expect("ringloop: register");
            Some(table)
        } else {
            None
        };
        let file = Rc::new(file);
        let sample = measure(job.n, count, |n| {
            let file = Rc::clone(&file);
            ringloop_readers(p.qd, n, move |i, reads| {
                let file = Rc::clone(&file);
                async move {
                    // Page-aligned for every case: see "Buffers" above.
                    let buf = ringloop::buf::AlignedBuf::new(p.bs).expect("ringloop: AlignedBuf");
                    read_loop(&file, buf, i, reads, &p).await
                }
            })
        })
        .await;
        let named = if file.is_registered() {
            "registered slot"
        } else if file.is_hot() {
            "hot-file slot"
        } else {
            "fd"
        };
        drop(table);
        (sample, ringloop::stats(), named)
    });
    record_ringloop_syscalls(&stats);
    Ok(Sample {
        note: Some(format!(
            "{}; file named by its {named}",
            ringloop_note(&stats)
        )),
        ..sample
    })
}

/// Spawns `qd` ringloop tasks, task `i` running `reader(i, its share of
/// the n reads)`, and returns how many whole blocks they read in all.
async fn ringloop_readers<F, Fut>(qd: usize, n: u64, reader: F) -> u64
where
    F: Fn(usize, u64) -> Fut,
    Fut: std::future::Future<Output = u64> + 'static,
{
    let handles: Vec<_> = (0..qd)
        .map(|i| ringloop::spawn(reader(i, share(n, qd, i))))
        .collect();
    let mut done = 0;
    for h in handles {
        done += h.await.expect("ringloop task failed");
    }
    done
}

/// `reads` random `read_at`s of task `i` into `buf`; returns how many
/// filled the whole block.
async fn read_loop<B: ringloop::buf::IoBufMut>(
    file: &ringloop::fs::File,
    mut buf: B,
    i: usize,
    reads: u64,
    p: &Params,
) -> u64 {
    let mut rng = Rng::new(i);
    let mut whole = 0;
    for _ in 0..reads {
        let (res, b) = file.read_at(buf, rng.offset(p)).await;
        buf = b;
        whole += u64::from(res.expect("ringloop read") == p.bs);
    }
    whole
}

fn ringloop_fixed(job: &Job) -> Outcome {
    let p = Params::of(job);
    let path = read_file_for(&p)?;
    let rt = ringloop::Runtime::new().map_err(Skip::build)?;
    let result = rt.block_on(async {
        let mut file = ringloop::fs::File::options()
            .read(true)
            .custom_flags(p.flags())
            .open(&path)
            .await
            .expect("ringloop: open failed");
        let table = ringloop::fs::FixedFiles::new(1)
            .map_err(|e| Skip::new(format!("no fixed file table: {e}")))?;
        file.register(&table)
            .map_err(|e| Skip::new(format!("cannot register the file: {e}")))?;
        let pool = ringloop::buf::FixedBufPool::new(p.qd, p.bs)
            .map_err(|e| Skip::new(format!("no fixed buffer pool: {e}")))?;
        let file = Rc::new(file);
        let sample = measure(job.n, count, |n| {
            let file = Rc::clone(&file);
            let pool = pool.clone();
            ringloop_readers(p.qd, n, move |i, reads| {
                let file = Rc::clone(&file);
                let pool = pool.clone();
                async move {
                    let mut rng = Rng::new(i);
                    let mut buf = pool.next().await;
                    let mut whole = 0;
                    for _ in 0..reads {
                        let (res, b) = file.read_fixed_at(buf, rng.offset(&p)).await;
                        buf = b;
                        whole += u64::from(res.expect("ringloop read_fixed") == p.bs);
                    }
                    whole
                }
            })
        })
        .await;
        drop(table);
        Ok::<_, Skip>((sample, ringloop::stats()))
    });
    let (sample, stats) = result?;
    record_ringloop_syscalls(&stats);
    Ok(Sample {
        note: Some(ringloop_note(&stats)),
        ..sample
    })
}

fn tokio_uring(job: &Job) -> Outcome {
    use tokio_uring::buf::BoundedBuf;

    let p = Params::of(job);
    let path = read_file_for(&p)?;
    let std_file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(p.flags())
        .open(&path)
        .map_err(|e| Skip::new(format!("cannot open {}: {e}", path.display())))?;
    Ok(tokio_uring::start(async move {
        let file = Rc::new(tokio_uring::fs::File::from_std(std_file));
        measure(job.n, count, |n| {
            let file = Rc::clone(&file);
            async move {
                let handles: Vec<_> = (0..p.qd)
                    .map(|i| {
                        let file = Rc::clone(&file);
                        tokio_uring::spawn(async move {
                            let mut rng = Rng::new(i);
                            let mut whole = 0;
                            // A page-aligned window of a larger Vec (O_DIRECT
                            // needs it; see "Buffers" above for the rest).
                            let (mut buf, start) = aligned_vec(p.bs);
                            for _ in 0..share(n, p.qd, i) {
                                let window = buf.slice(start..start + p.bs);
                                let (res, b) = file.read_at(window, rng.offset(&p)).await;
                                buf = b.into_inner();
                                whole += u64::from(res.expect("tokio-uring read") == p.bs);
                            }
                            whole
                        })
                    })
                    .collect();
                let mut done = 0;
                for h in handles {
                    done += h.await.expect("tokio-uring task failed");
                }
                done
            }
        })
        .await
    }))
}

fn tokio_fs(job: &Job) -> Outcome {
    let p = Params::of(job);
    let path = read_file_for(&p)?;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(p.flags())
        .open(&path)
        .map_err(|e| Skip::new(format!("cannot open {}: {e}", path.display())))?;
    let file = Arc::new(file);
    // A current-thread runtime as a tokio user builds it; its blocking pool
    // (up to 512 threads; `qd` are busy here) inherits the child's CPU pin.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Skip::build)?;
    Ok(rt.block_on(measure(job.n, count, |n| {
        let file = Arc::clone(&file);
        async move {
            let handles: Vec<_> = (0..p.qd)
                .map(|i| {
                    let file = Arc::clone(&file);
                    tokio::spawn(async move {
                        let mut rng = Rng::new(i);
                        let mut whole = 0;
                        let (mut buf, start) = aligned_vec(p.bs);
                        for _ in 0..share(n, p.qd, i) {
                            let file = Arc::clone(&file);
                            let pos = rng.offset(&p);
                            // One trip to the blocking pool per read: pread
                            // there, the buffer moved in and back.
                            let (res, b) = tokio::task::spawn_blocking(move || {
                                let res = file.read_at(&mut buf[start..start + p.bs], pos);
                                (res, buf)
                            })
                            .await
                            .expect("spawn_blocking failed");
                            buf = b;
                            whole += u64::from(res.expect("pread") == p.bs);
                        }
                        whole
                    })
                })
                .collect();
            let mut done = 0;
            for h in handles {
                done += h.await.expect("tokio task failed");
            }
            done
        }
    })))
}

fn fio_io_uring(job: &Job) -> Outcome {
    fio(job, "io_uring")
}

fn fio_psync(job: &Job) -> Outcome {
    fio(job, "psync")
}

/// One fio job of `n` random reads with `engine`; its own IOPS figure (from
/// the first I/O to the last, so process start-up is not counted).
fn fio(job: &Job, engine: &str) -> Outcome {
    let p = Params::of(job);
    let path = read_file_for(&p)?;
    let mut cmd = Command::new("fio");
    cmd.arg("--name=fileread")
        .arg(format!("--filename={}", path.display()))
        .arg("--rw=randread")
        .arg(format!("--bs={}", p.bs))
        .arg(format!("--size={FILE_SIZE}"))
        .arg(format!("--ioengine={engine}"))
        .arg(format!("--direct={}", u8::from(p.direct)))
        // Keep the page cache (the buffered cases warmed it).
        .arg("--invalidate=0")
        .arg("--randrepeat=0")
        .arg("--norandommap")
        .arg(format!("--number_ios={}", job.n))
        .arg(format!("--io_size={}", job.n * p.bs as u64))
        .arg("--allow_file_create=0")
        .arg("--output-format=json");
    if engine == "io_uring" {
        cmd.arg(format!("--iodepth={}", p.qd));
    }
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Skip::new(
                "fio not installed (apt-get install fio, or bash ci/install-bench-tools.sh)",
            ),
            _ => Skip::new(format!("cannot run fio: {e}")),
        })?;
    let out = super::local::succeeded(out, "fio")?;
    let (ios, iops, cpu) = parse_fio(&out.stdout).map_err(Skip::new)?;
    record_cpu(cpu, ios as f64);
    assert_eq!(
        ios, job.n,
        "fio did {ios} reads, not the {} asked for",
        job.n
    );
    Ok(Sample {
        ops: ios,
        elapsed: Duration::from_secs_f64(ios as f64 / iops),
        note: None,
    })
}

/// `(total_ios, iops, CPU µs per I/O)` of the read side of fio's one job
/// (its CPU time: `usr_cpu + sys_cpu`, % of `job_runtime` ms).
fn parse_fio(json: &[u8]) -> Result<(u64, f64, CpuTime), String> {
    // fio may print warnings before the JSON object.
    let start = json.iter().position(|&b| b == b'{').unwrap_or(0);
    let v: serde_json::Value = serde_json::from_slice(&json[start..])
        .map_err(|e| format!("cannot parse fio's JSON output: {e}"))?;
    let read = &v["jobs"][0]["read"];
    let ios = read["total_ios"].as_u64();
    let iops = read["iops"].as_f64();
    let job = &v["jobs"][0];
    // usr_cpu and sys_cpu: % of the job's runtime (ms).
    let runtime_ms = job["job_runtime"].as_f64().unwrap_or(f64::NAN);
    let ms = |key: &str| job[key].as_f64().unwrap_or(f64::NAN) / 100.0 * runtime_ms;
    let cpu = |ms: f64| Duration::from_secs_f64((ms / 1e3).max(0.0));
    match (ios, iops) {
        (Some(ios), Some(iops)) if iops > 0.0 && runtime_ms.is_finite() => Ok((
            ios,
            iops,
            CpuTime {
                user: cpu(ms("usr_cpu")),
                system: cpu(ms("sys_cpu")),
            },
        )),
        _ => Err("fio's JSON output has no read IOPS".into()),
    }
}

// ---- cp ------------------------------------------------------------------

/// Bytes in the `cp` source for a pass of `n` bytes.
fn cp_source(n: u64) -> Result<PathBuf, Skip> {
    let path = data_file(&format!("cp-src-{}MiB.dat", n >> 20), n)?;
    // The source is in the page cache (it was just written or read);
    // nothing is dropped from it. Reading it once makes sure.
    warm(&path).map_err(|e| Skip::new(format!("cannot read {}: {e}", path.display())))?;
    Ok(path)
}

fn cp_destination() -> PathBuf {
    scratch_dir().join("cp-dst.dat")
}

/// Times `run` (which copies `src` to `dst`) on a fresh destination and
/// checks the copy.
///
/// An untimed copy runs first and is deleted just before the timed one, so
/// that the timed copy's new page-cache pages are memory this machine used
/// a moment ago. In a VM with free-page reporting (this one, a Firecracker
/// guest), idle free memory goes back to the host within seconds and its
/// first touch afterwards costs a host page fault: a copy into such memory
/// ran several times slower, whichever peer made it, and the same copy
/// repeated at once did not. Touching and freeing that much anonymous
/// memory just before (what the suite did first) was not enough at 1 GiB.
fn time_copy(n: u64, mut run: impl FnMut(&Path, &Path) -> Result<Option<String>, Skip>) -> Outcome {
    let src = cp_source(n)?;
    let dst = cp_destination();
    let _ = fs::remove_file(&dst);
    run(&src, &dst)?;
    let _ = fs::remove_file(&dst);
    let cpu = crate::metric::children_cpu();
    let start = Instant::now();
    let note = run(&src, &dst)?;
    let elapsed = start.elapsed();
    // The copying processes' CPU time per MiB copied (the timed copy's).
    let cpu = crate::metric::children_cpu().saturating_sub(cpu);
    record(
        Metric::CpuPerMiB,
        cpu.as_secs_f64() * 1e6 * (1 << 20) as f64 / n as f64,
    );
    check_copy(&src, &dst, n);
    let _ = fs::remove_file(&dst);
    Ok(Sample {
        ops: n,
        elapsed,
        note,
    })
}

/// The copy has the source's size and, at 64 places, its bytes.
fn check_copy(src: &Path, dst: &Path, n: u64) {
    let len = fs::metadata(dst).map(|m| m.len()).unwrap_or(0);
    assert_eq!(len, n, "the copy has {len} bytes, not {n}");
    let (a, b) = (fs::File::open(src).unwrap(), fs::File::open(dst).unwrap());
    let mut rng = Rng::new(7);
    let (mut x, mut y) = (vec![0u8; 4096], vec![0u8; 4096]);
    for _ in 0..64 {
        let pos = rng.next() % (n / 4096) * 4096;
        a.read_exact_at(&mut x, pos).unwrap();
        b.read_exact_at(&mut y, pos).unwrap();
        assert!(x == y, "the copy differs from the source at offset {pos}");
    }
}

/// Runs `cmd`, failing the run if it fails; returns its stderr.
fn run_command(cmd: &mut Command, what: &str) -> Result<String, Skip> {
    let out = super::local::run(cmd, what)?;
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

fn ringloop_cp(job: &Job) -> Outcome {
    ringloop_cp_with(job, &[])
}

fn ringloop_cp_direct(job: &Job) -> Outcome {
    ringloop_cp_with(job, &["--direct"])
}

/// `cp SRC DST --qd 32 [flags]` (128 KiB blocks, the example's default),
/// timed from spawn to exit; the example ends with an fsync of the copy.
fn ringloop_cp_with(job: &Job, flags: &[&str]) -> Outcome {
    let bin = super::local::example("cp", &[])?;
    let qd = job.concurrency.to_string();
    time_copy(job.n, |src, dst| {
        let mut cmd = Command::new(&bin);
        cmd.arg(src).arg(dst).args(["--qd", &qd]).args(flags);
        let err = run_command(&mut cmd, "examples/cp")?;
        // Its own report: time, and ops per io_uring_enter.
        Ok(Some(err.lines().collect::<Vec<_>>().join("; ")))
    })
}

/// coreutils `cp SRC DST` then `sync DST` (an fsync of the copy, as the
/// example does), timed together from the first spawn to the last exit.
fn coreutils_cp(job: &Job) -> Outcome {
    time_copy(job.n, |src, dst| {
        run_command(Command::new("cp").arg(src).arg(dst), "cp")?;
        run_command(Command::new("sync").arg(dst), "sync FILE")?;
        Ok(None)
    })
}
