//! Files on the ring: [`File`], [`OpenOptions`], [`Metadata`], registered
//! files ([`FixedFiles`]) and free functions on paths.
//!
//! Every operation is one SQE — `openat`, `read`, `write`, `readv`,
//! `fsync`, `statx`, `unlinkat`, `renameat`, `mkdirat` … — so a task that
//! waits for the disk parks like a task that waits for the network, and
//! many file ops can be in flight from one thread.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use ringloop::fs;
//!
//! let rt = ringloop::Runtime::new()?;
//! rt.block_on(async {
//!     fs::write("/tmp/hello.txt", "hello, ring\n").await?;
//!     let file = fs::File::open("/tmp/hello.txt").await?;
//!     let (n, buf) = file.read_at(vec![0u8; 64], 0).await;
//!     assert_eq!(&buf[..n?], b"hello, ring\n");
//!     file.close().await
//! })
//! # }
//! ```
//!
//! # Protocols
//!
//! * **Ownership.** Buffers, iovec arrays, paths (`CString`s) and `statx`
//!   structures are moved into the op and stay in the op table until the
//!   op's terminal CQE, also when its future is dropped. The safe API takes
//!   only owned `'static` buffers.
//! * **Descriptors.** An op holds a clone of its file's shared descriptor,
//!   so dropping or closing a `File` with ops in flight closes the
//!   descriptor only after their last CQE: a stale SQE can never hit a
//!   reused number. An `open` whose future is dropped yields an `OwnedFd`
//!   at its CQE anyway, which is then dropped: no descriptor leaks.
//! * **Closing.** [`File::close`] reports `close(2)`'s error; dropping a
//!   `File` closes it synchronously and discards that error (see [`File`]).
//!   Buffered write errors surface at [`File::sync_all`].
//! * **Ordering.** Ops on one file run concurrently and complete in any
//!   order; an op started after another was awaited sees its effect. An
//!   fsync covers the writes awaited before it.
//! * **Long I/O.** One SQE's length is 32 bits and the kernel caps an op at
//!   2 GiB - 4 KiB; `read_at`/`write_at` split larger buffers into 1 GiB
//!   ops, so nothing is truncated to a length that looks like EOF.
//! * **Missing opcodes.** Ops newer than ringloop's minimum kernel
//!   (`mkdirat`, `linkat`, `symlinkat`: 5.15; `ftruncate`: 6.9 …) are
//!   probed; where the ring lacks one, the same syscall runs on the
//!   blocking pool ([`spawn_blocking`](crate::spawn_blocking)), with a
//!   duplicated descriptor and owned paths. `RINGLOOP_FS_BLOCKING=1` forces
//!   that path for every probed op.
//! * **`O_DIRECT`.** Open with `custom_flags(libc::O_DIRECT)` and use an
//!   [`AlignedBuf`](crate::buf::AlignedBuf) or a
//!   [`FixedBufPool`](crate::buf::FixedBufPool); a misaligned request fails
//!   with an `InvalidInput` error naming the alignment needed.
//! * **Large buffered reads.** The kernel copies page-cache data into the
//!   buffer, and on some CPUs that copy is much slower when the buffer does
//!   not start on a 64-byte boundary, as a large `Vec<u8>` does not (glibc
//!   puts it 16 bytes past a page). For reads of tens of KiB and more into
//!   long-lived buffers, prefer an [`AlignedBuf`](crate::buf::AlignedBuf)
//!   (page-aligned) or a [`FixedBufPool`](crate::buf::FixedBufPool);
//!   `cargo bench --bench read_alignment` shows what it is worth on a
//!   machine.
//! * **Registered resources.** A [`FixedBufPool`](crate::buf::FixedBufPool)
//!   (with [`File::read_fixed_at`], [`File::write_fixed_at`]) and a
//!   [`FixedFiles`] table spare the kernel per-op work; each is registered
//!   with the current runtime's ring and refused (`InvalidInput`) or
//!   ignored (a file's slot) on another runtime.
//! * **Hot files.** Without being asked, the runtime puts a file that has
//!   done 128 ops into a slot of a fixed-file table of its own, so that its
//!   later ops skip the kernel's per-op descriptor lookup ([`File::is_hot`];
//!   [`Builder::hot_files`](crate::Builder::hot_files) sizes the table or
//!   turns it off). The fd stays open beside the slot, as for a registered
//!   file; the protocol is in `fs/hot.rs`.
//!
//! Errors are `io::Error`s with the kernel's errno and kind (`NotFound`,
//! `PermissionDenied`, `IsADirectory`, `StorageFull`, `FileTooLarge` …);
//! bad arguments (a NUL in a path, an offset above `i64::MAX`) are
//! `InvalidInput`, never a panic.

mod direct;
mod file;
mod fixed_files;
mod functions;
pub(crate) mod hot;
mod metadata;
mod open_options;

pub use file::File;
pub use fixed_files::FixedFiles;
pub use functions::{
    create_dir, create_dir_all, hard_link, metadata, read, remove_dir, remove_file, rename,
    symlink, symlink_metadata, write,
};
pub use metadata::Metadata;
pub use open_options::OpenOptions;
