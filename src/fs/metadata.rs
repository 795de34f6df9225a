//! [`Metadata`]: what `statx(2)` says about a file.

use std::fmt;
use std::fs::Permissions;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

/// The fields asked of `statx`: the basic ones, birth time, and the
/// `O_DIRECT` alignment.
pub(crate) const MASK: u32 = libc::STATX_BASIC_STATS | libc::STATX_BTIME | libc::STATX_DIOALIGN;

/// Metadata of a file, from [`File::metadata`](super::File::metadata),
/// [`metadata`](super::metadata) or [`symlink_metadata`](super::symlink_metadata).
#[derive(Clone)]
pub struct Metadata {
    stx: libc::statx,
}

#[allow(clippy::len_without_is_empty)] // a file's size, as in std
impl Metadata {
    pub(crate) fn new(stx: libc::statx) -> Metadata {
        Metadata { stx }
    }

    fn format(&self) -> u32 {
        u32::from(self.stx.stx_mode) & libc::S_IFMT
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.stx.stx_size
    }

    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.format() == libc::S_IFREG
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.format() == libc::S_IFDIR
    }

    /// Whether this is a symbolic link (only from `symlink_metadata`).
    pub fn is_symlink(&self) -> bool {
        self.format() == libc::S_IFLNK
    }

    /// The full `st_mode`: file type and permission bits.
    pub fn mode(&self) -> u32 {
        u32::from(self.stx.stx_mode)
    }

    /// The permission bits.
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.mode() & 0o7777)
    }

    /// Inode number.
    pub fn ino(&self) -> u64 {
        self.stx.stx_ino
    }

    /// Device holding the file (as `st_dev`).
    pub fn dev(&self) -> u64 {
        libc::makedev(self.stx.stx_dev_major, self.stx.stx_dev_minor)
    }

    /// Number of hard links.
    pub fn nlink(&self) -> u64 {
        u64::from(self.stx.stx_nlink)
    }

    /// Owner's user id.
    pub fn uid(&self) -> u32 {
        self.stx.stx_uid
    }

    /// Owner's group id.
    pub fn gid(&self) -> u32 {
        self.stx.stx_gid
    }

    /// Preferred I/O block size.
    pub fn blksize(&self) -> u64 {
        u64::from(self.stx.stx_blksize)
    }

    /// Number of 512-byte blocks allocated (less than `len() / 512` for a
    /// sparse file).
    pub fn blocks(&self) -> u64 {
        self.stx.stx_blocks
    }

    /// Last modification time.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the file system does not record it.
    pub fn modified(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_MTIME, self.stx.stx_mtime, "modification")
    }

    /// Last access time.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the file system does not record it.
    pub fn accessed(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_ATIME, self.stx.stx_atime, "access")
    }

    /// Creation (birth) time.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the file system does not record it.
    pub fn created(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_BTIME, self.stx.stx_btime, "creation")
    }

    /// Alignment `O_DIRECT` needs for buffer addresses, if the file system
    /// reports it (`STATX_DIOALIGN`, Linux 6.1; `Some(0)`: no `O_DIRECT`).
    pub fn dio_mem_align(&self) -> Option<u32> {
        (self.stx.stx_mask & libc::STATX_DIOALIGN != 0).then_some(self.stx.stx_dio_mem_align)
    }

    /// Alignment `O_DIRECT` needs for file offsets and lengths, if reported.
    pub fn dio_offset_align(&self) -> Option<u32> {
        (self.stx.stx_mask & libc::STATX_DIOALIGN != 0).then_some(self.stx.stx_dio_offset_align)
    }

    fn time(&self, bit: u32, ts: libc::statx_timestamp, what: &str) -> io::Result<SystemTime> {
        if self.stx.stx_mask & bit == 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("the file system does not record {what} times"),
            ));
        }
        let nanos = Duration::from_nanos(u64::from(ts.tv_nsec));
        let time = if ts.tv_sec >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(ts.tv_sec as u64) + nanos)
        } else {
            SystemTime::UNIX_EPOCH
                .checked_sub(Duration::from_secs(ts.tv_sec.unsigned_abs()))
                .and_then(|t| t.checked_add(nanos))
        };
        time.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "timestamp out of range"))
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("len", &self.len())
            .field("mode", &format_args!("{:#o}", self.mode()))
            .field("ino", &self.ino())
            .field("nlink", &self.nlink())
            .field("blocks", &self.blocks())
            .finish_non_exhaustive()
    }
}
