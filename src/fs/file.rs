//! [`File`]: an open file whose I/O runs on the ring.

use super::fixed_files::FixedFiles;
use super::hot;
use super::metadata::{self, Metadata};
use super::{direct, OpenOptions};
use crate::buf::{FixedIoBuf, IoBuf, IoBufMut};
use crate::driver::registry_fs::FileSlot;
use crate::io::SharedFd;
use crate::op::fs_support::FileFd;
use crate::op::{close, fallocate, fsync, ftruncate, preadv, pwritev, read, read_fixed, statx};
use crate::op::{write, write_fixed};
use std::cell::Cell;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::rc::Rc;

/// Longest single read or write op: 1 GiB. The SQE's length field is 32
/// bits and the kernel caps one op at `MAX_RW_COUNT` (2 GiB - 4 KiB); a
/// larger buffer is served by consecutive ops of this size, which keeps
/// every op's offset and length aligned for `O_DIRECT`.
pub(crate) const MAX_OP_LEN: usize = 1 << 30;

/// An open file. Every method takes the buffer by value and gives it back
/// with the result (see [`crate::buf`]): the kernel owns it meanwhile.
///
/// I/O is positional (`*_at`): there is no cursor, so several ops on one
/// file can be in flight at once, from one task or many.
///
/// # Closing
///
/// [`close`](File::close) closes the file and reports `close(2)`'s error.
/// Dropping a `File` closes it too, synchronously, and **discards** that
/// error, as `std::fs::File` does; if ops on the file are still in flight
/// (their futures were dropped), the descriptor is closed only after their
/// last CQE, so they never hit a reused descriptor. Write-back errors of
/// buffered writes appear at [`sync_all`](File::sync_all) /
/// [`sync_data`](File::sync_data), not at close on local file systems: call
/// one of them before dropping a file whose writes must not fail silently.
pub struct File {
    fd: FileFd,
    /// Opened with `O_DIRECT`: explain `EINVAL`s as alignment errors.
    direct: bool,
    /// Ops that named the file, up to [`hot::HOT_AFTER`] (see `hot`).
    ops: Cell<u32>,
}

impl File {
    /// Opens `path` for reading.
    ///
    /// # Errors
    ///
    /// `NotFound`, `PermissionDenied` …; see [`OpenOptions::open`].
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens `path` for writing, creating it or truncating it.
    ///
    /// # Errors
    ///
    /// `PermissionDenied`, `IsADirectory` …; see [`OpenOptions::open`].
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// A blank [`OpenOptions`].
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps a file opened by the standard library.
    pub fn from_std(file: std::fs::File) -> File {
        let fd = OwnedFd::from(file);
        // SAFETY: F_GETFL only reads the descriptor's status flags.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        File::from_owned(fd, flags >= 0 && flags & libc::O_DIRECT != 0)
    }

    pub(crate) fn from_owned(fd: OwnedFd, direct: bool) -> File {
        let mut file_fd = FileFd::new(SharedFd::new(fd));
        file_fd.direct = direct;
        File {
            fd: file_fd,
            direct,
            ops: Cell::new(0),
        }
    }

    pub(crate) fn shared_fd(&self) -> &SharedFd {
        &self.fd.fd
    }

    /// The file as the op about to be built names it. Counts the op, and
    /// at the [`hot::HOT_AFTER`]th one promotes the file to a hot-file slot
    /// (unless it is registered already).
    fn op_fd(&self) -> &FileFd {
        let n = self.ops.get();
        if n < hot::HOT_AFTER {
            self.ops.set(n + 1);
            if n + 1 == hot::HOT_AFTER && self.fd.fixed.is_none() {
                hot::promote(&self.fd.fd);
            }
        }
        &self.fd
    }

    /// Reads up to `buf.bytes_total()` bytes at `pos` into `buf`, from its
    /// start; returns how many. `Ok(0)` means `pos` is at or past the end.
    ///
    /// Fewer bytes than asked (a short read) mean the end of the file was
    /// reached. A buffer over 1 GiB is filled by several ops in a row (one
    /// op's length is limited); they stop at the first short one.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `pos` is above `i64::MAX`, or for a misaligned
    /// `O_DIRECT` read (the message says what alignment is needed); the
    /// kernel's error otherwise (`IsADirectory`, `PermissionDenied` for a
    /// write-only file …). If a multi-op read fails after some progress, the
    /// progress is returned and the error is left for the next call.
    pub async fn read_at<B: IoBufMut>(&self, buf: B, pos: u64) -> (io::Result<usize>, B) {
        if let Err(e) = check_offset(pos) {
            return (Err(e), buf);
        }
        let (result, buf) = if buf.bytes_total() <= MAX_OP_LEN {
            read::read_file_at(self.op_fd(), buf, pos).await
        } else {
            self.read_chunks(buf, pos).await
        };
        let result = result.map_err(|e| self.explain(e, "read", &buf, buf.bytes_total(), pos));
        (result, buf)
    }

    async fn read_chunks<B: IoBufMut>(&self, mut buf: B, pos: u64) -> (io::Result<usize>, B) {
        let total = buf.bytes_total();
        let mut done = 0;
        while done < total {
            let end = total.min(done + MAX_OP_LEN);
            let (result, slice) =
                read::read_file_at(self.op_fd(), buf.slice(done..end), pos + done as u64).await;
            buf = slice.into_inner();
            match result {
                Ok(n) => {
                    done += n;
                    if done < end {
                        break; // short: the end of the file
                    }
                }
                Err(e) if done == 0 => return (Err(e), buf),
                Err(_) => break,
            }
        }
        (Ok(done), buf)
    }

    /// Fills all of `buf` (`bytes_total()` bytes) from `pos`.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the file ends first (the bytes read so far are in
    /// the buffer); otherwise as for [`read_at`](File::read_at).
    pub async fn read_exact_at<B: IoBufMut>(&self, mut buf: B, pos: u64) -> (io::Result<()>, B) {
        let total = buf.bytes_total();
        let mut done = 0;
        while done < total {
            let (result, slice) = self.read_at(buf.slice(done..), pos + done as u64).await;
            buf = slice.into_inner();
            match result {
                Ok(0) => {
                    let msg = format!(
                        "the file ended {done} bytes into a read of {total} at offset {pos}"
                    );
                    return (Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg)), buf);
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Writes up to `buf.bytes_init()` bytes at `pos`; returns how many.
    ///
    /// A buffer over 1 GiB is written by several ops in a row, stopping at
    /// the first short one. On an `O_APPEND` file every write goes to the
    /// end, whatever `pos` is.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `pos` is above `i64::MAX` or for a misaligned
    /// `O_DIRECT` write; `StorageFull` (`ENOSPC`), `FileTooLarge` (`EFBIG`),
    /// `QuotaExceeded` … from the kernel. Bytes reported written are
    /// written; nothing past them is.
    pub async fn write_at<B: IoBuf>(&self, buf: B, pos: u64) -> (io::Result<usize>, B) {
        if let Err(e) = check_offset(pos) {
            return (Err(e), buf);
        }
        let (result, buf) = if buf.bytes_init() <= MAX_OP_LEN {
            write::write_file_at(self.op_fd(), buf, pos).await
        } else {
            self.write_chunks(buf, pos).await
        };
        let result = result.map_err(|e| self.explain(e, "write", &buf, buf.bytes_init(), pos));
        (result, buf)
    }

    async fn write_chunks<B: IoBuf>(&self, mut buf: B, pos: u64) -> (io::Result<usize>, B) {
        let total = buf.bytes_init();
        let mut done = 0;
        while done < total {
            let end = total.min(done + MAX_OP_LEN);
            let (result, slice) =
                write::write_file_at(self.op_fd(), buf.slice(done..end), pos + done as u64).await;
            buf = slice.into_inner();
            match result {
                Ok(n) => {
                    done += n;
                    if done < end {
                        break;
                    }
                }
                Err(e) if done == 0 => return (Err(e), buf),
                Err(_) => break,
            }
        }
        (Ok(done), buf)
    }

    /// Writes all of `buf`'s initialised bytes from `pos`.
    ///
    /// # Errors
    ///
    /// The first error of [`write_at`](File::write_at) (`Interrupted` is
    /// retried); `WriteZero` if the kernel accepts nothing. The bytes before
    /// the failing op are written, nothing after them.
    pub async fn write_all_at<B: IoBuf>(&self, mut buf: B, pos: u64) -> (io::Result<()>, B) {
        let total = buf.bytes_init();
        let mut done = 0;
        while done < total {
            let (result, slice) = self
                .write_at(buf.slice(done..total), pos + done as u64)
                .await;
            buf = slice.into_inner();
            match result {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Reads at `pos` into `bufs` in order (`preadv2`); returns the total.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for more than 1024 buffers or `pos` above
    /// `i64::MAX`; the kernel's error otherwise.
    pub async fn readv_at<B: IoBufMut>(
        &self,
        bufs: Vec<B>,
        pos: u64,
    ) -> (io::Result<usize>, Vec<B>) {
        if let Err(e) = check_offset(pos) {
            return (Err(e), bufs);
        }
        preadv::preadv(self.op_fd(), bufs, pos).await
    }

    /// Writes the initialised bytes of `bufs` in order at `pos`
    /// (`pwritev2`); returns the total.
    ///
    /// # Errors
    ///
    /// As for [`readv_at`](File::readv_at).
    pub async fn writev_at<B: IoBuf>(&self, bufs: Vec<B>, pos: u64) -> (io::Result<usize>, Vec<B>) {
        if let Err(e) = check_offset(pos) {
            return (Err(e), bufs);
        }
        pwritev::pwritev(self.op_fd(), bufs, pos).await
    }

    /// As [`read_at`](File::read_at), into a registered buffer of a
    /// [`FixedBufPool`](crate::buf::FixedBufPool): the kernel skips mapping
    /// the buffer. Uses the file's fixed slot if it is
    /// [registered](File::register).
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the buffer's pool belongs to another runtime; as
    /// for `read_at` otherwise.
    pub async fn read_fixed_at<B>(&self, buf: B, pos: u64) -> (io::Result<usize>, B)
    where
        B: FixedIoBuf + IoBufMut,
    {
        if let Err(e) = check_offset(pos) {
            return (Err(e), buf);
        }
        let (result, buf) = match read_fixed::read_fixed_at(self.op_fd(), buf, pos) {
            Ok(op) => op.await,
            Err((e, buf)) => (Err(e), buf),
        };
        let result = result.map_err(|e| self.explain(e, "read", &buf, buf.bytes_total(), pos));
        (result, buf)
    }

    /// As [`write_at`](File::write_at), from a registered buffer.
    ///
    /// # Errors
    ///
    /// As for [`read_fixed_at`](File::read_fixed_at).
    pub async fn write_fixed_at<B: FixedIoBuf>(&self, buf: B, pos: u64) -> (io::Result<usize>, B) {
        if let Err(e) = check_offset(pos) {
            return (Err(e), buf);
        }
        let (result, buf) = match write_fixed::write_fixed_at(self.op_fd(), buf, pos) {
            Ok(op) => op.await,
            Err((e, buf)) => (Err(e), buf),
        };
        let result = result.map_err(|e| self.explain(e, "write", &buf, buf.bytes_init(), pos));
        (result, buf)
    }

    /// Flushes data and metadata to storage (`fsync`). It covers every
    /// write that completed (was awaited) before it is called.
    ///
    /// # Errors
    ///
    /// Write-back errors (`EIO`, `ENOSPC` …) of earlier buffered writes.
    pub async fn sync_all(&self) -> io::Result<()> {
        fsync::fsync(self.op_fd(), false).await
    }

    /// Flushes data, and only the metadata needed to read it back
    /// (`fdatasync`).
    ///
    /// # Errors
    ///
    /// As for [`sync_all`](File::sync_all).
    pub async fn sync_data(&self) -> io::Result<()> {
        fsync::fsync(self.op_fd(), true).await
    }

    /// Truncates or extends (with a hole) the file to `size` bytes
    /// (`ftruncate`; on the blocking pool before Linux 6.9).
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `size` is above `i64::MAX` or the file is not open
    /// for writing; `FileTooLarge` …
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        check_offset(size)?;
        ftruncate::ftruncate(self.op_fd(), size).await
    }

    /// `fallocate(2)`: with `mode` 0, allocates `len` bytes at `offset`
    /// (growing the file); `libc::FALLOC_FL_*` flags keep the size, punch
    /// holes, zero ranges …
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `offset + len` is above `i64::MAX`; `Unsupported`
    /// (`EOPNOTSUPP`) if the file system lacks the mode; `StorageFull`.
    pub async fn fallocate(&self, offset: u64, len: u64, mode: i32) -> io::Result<()> {
        check_offset(offset.saturating_add(len))?;
        fallocate::fallocate(self.op_fd(), offset, len, mode).await
    }

    /// The file's metadata (`statx` on the descriptor).
    ///
    /// # Errors
    ///
    /// The kernel's (rare on an open file).
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let flags = libc::AT_EMPTY_PATH | libc::AT_STATX_SYNC_AS_STAT;
        let stx = statx::statx(Some(&self.fd.fd), c"".into(), flags, metadata::MASK).await?;
        Ok(Metadata::new(stx))
    }

    /// Puts the file in a slot of `table` (registered files): the ops that
    /// can name a fixed file (`read_at`/`write_at` and the ops built on
    /// them, fixed-buffer, vectored, sync, allocate and truncate ops) then
    /// skip the kernel's descriptor lookup. The slot is
    /// freed when the file is closed and its last op has completed.
    /// Registering an already registered file does nothing.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the file is in another table; `QuotaExceeded` if
    /// every slot of `table` is taken.
    pub fn register(&mut self, table: &FixedFiles) -> io::Result<()> {
        if let Some(slot) = &self.fd.fixed {
            return if table.owns(slot) {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "this file is already registered in another table",
                ))
            };
        }
        let slot = table.insert(self.fd.fd.raw())?;
        self.fd.fixed = Some(Rc::new(slot));
        Ok(())
    }

    /// Whether the file is in a [`FixedFiles`] table.
    pub fn is_registered(&self) -> bool {
        self.fd.fixed.is_some()
    }

    /// Whether the runtime made this a hot file: after its first ops it was
    /// put in the runtime's own fixed-file table, so that its ops name a
    /// slot instead of the fd ([`Builder::hot_files`](crate::Builder::hot_files)).
    pub fn is_hot(&self) -> bool {
        self.fd.fd.fixed().is_some()
    }

    /// Closes the file and reports `close(2)`'s error (which, on network
    /// file systems, carries write-back errors). If ops on the file are
    /// still in flight (dropped futures), the descriptor itself is closed
    /// after their last CQE.
    ///
    /// # Errors
    ///
    /// `close(2)`'s: `EIO`, `ENOSPC`, `EDQUOT` on NFS and the like.
    pub async fn close(self) -> io::Result<()> {
        let File {
            fd: FileFd { fd, fixed, .. },
            ..
        } = self;
        drop(fixed);
        // The `SharedFd` cannot hand its descriptor over (in-flight ops may
        // hold clones), so the close whose error we report is that of a
        // duplicate, taken first: `close(2)` flushes on every close, so the
        // duplicate's close reports what the last close would. The original
        // then closes silently, now or after its last op.
        let dup = fd.as_fd().try_clone_to_owned();
        let result = match dup {
            Ok(dup) => close::close(dup).await,
            Err(_) => Ok(()), // out of descriptors: the plain close below
        };
        drop(fd);
        result
    }

    /// Explains a misaligned `O_DIRECT` request's `EINVAL`.
    fn explain<B: IoBuf>(
        &self,
        e: io::Error,
        op: &'static str,
        buf: &B,
        len: usize,
        pos: u64,
    ) -> io::Error {
        if !self.direct {
            return e;
        }
        direct::explain(e, self.fd.fd.raw(), op, buf.stable_ptr(), len, pos)
    }
}

/// Offsets above `i64::MAX` are invalid for the kernel, and `u64::MAX` (-1)
/// would mean "the file position": refuse them up front.
fn check_offset(pos: u64) -> io::Result<()> {
    if pos > i64::MAX as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("file offset {pos} is above i64::MAX"),
        ));
    }
    Ok(())
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.fd.raw()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.fd.as_fd()
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("fd", &self.fd.fd.raw())
            .field("fixed", &self.fd.fixed.as_ref().map(|s| s.index()))
            .field("hot", &self.fd.fd.fixed().map(FileSlot::index))
            .field("direct", &self.direct)
            .finish()
    }
}
