//! Free functions on paths: whole-file read and write, and the directory
//! entry operations, each one op on the ring.

use super::{File, Metadata};
use crate::buf::IoBuf;
use crate::op::fs_support::cstring;
use crate::op::{link, mkdir, rename as rename_op, statx, symlink as symlink_op, unlink};
use std::io;
use std::path::Path;

/// Reads the whole file at `path`.
///
/// # Errors
///
/// `NotFound`, `PermissionDenied`, `IsADirectory` … from opening or
/// reading.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let file = File::open(path).await?;
    // The size is a hint (the file may change, /proc files say 0): read
    // until a read returns 0. One spare byte lets that last read find EOF
    // without growing the buffer.
    let hint = file.metadata().await.map_or(0, |m| m.len());
    let mut buf = Vec::new();
    let first = usize::try_from(hint)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
        .max(512);
    reserve(&mut buf, first)?;
    loop {
        if buf.len() == buf.capacity() {
            let more = buf.capacity();
            reserve(&mut buf, more)?;
        }
        let (len, cap) = (buf.len(), buf.capacity());
        let (result, slice) = file.read_at(buf.slice(len..cap), len as u64).await;
        buf = slice.into_inner();
        match result {
            Ok(0) => return Ok(buf),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Grows `buf` by `more` bytes of capacity, or says it cannot (a huge
/// size hint must not abort the process).
fn reserve(buf: &mut Vec<u8>, more: usize) -> io::Result<()> {
    buf.try_reserve_exact(more).map_err(|_| {
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!("cannot allocate {more} more bytes to read the file into"),
        )
    })
}

/// Writes `data`'s initialised bytes as the whole content of `path`,
/// creating or truncating it. Any owned buffer works (`Vec<u8>`, `String`,
/// `&'static str` …), without a copy.
///
/// # Errors
///
/// From opening (`PermissionDenied` …) or writing (`StorageFull` …).
pub async fn write<B: IoBuf>(path: impl AsRef<Path>, data: B) -> io::Result<()> {
    let file = File::create(path).await?;
    file.write_all_at(data, 0).await.0?;
    file.close().await
}

/// Removes a file (or a symlink; not a directory).
///
/// # Errors
///
/// `NotFound`, `IsADirectory`, `PermissionDenied` …
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    unlink::unlink(cstring(path.as_ref())?, false).await
}

/// Removes an empty directory.
///
/// # Errors
///
/// `NotFound`, `DirectoryNotEmpty`, `NotADirectory` …
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    unlink::unlink(cstring(path.as_ref())?, true).await
}

/// Renames `from` to `to`, replacing `to` if it exists (atomically, within
/// one file system).
///
/// # Errors
///
/// `NotFound`, `CrossesDevices` (different file systems), `IsADirectory` …
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    rename_op::rename(cstring(from.as_ref())?, cstring(to.as_ref())?).await
}

/// Creates a directory (mode `0o777` before the umask).
///
/// # Errors
///
/// `AlreadyExists`, `NotFound` (a parent is missing) …
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    mkdir::mkdir(cstring(path.as_ref())?, 0o777).await
}

/// Creates a directory and every missing parent; succeeds if it exists.
///
/// # Errors
///
/// `NotADirectory` or `AlreadyExists` if a component is a file,
/// `PermissionDenied` …
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    // Walk up to the first ancestor that exists, then create downwards.
    let mut missing = Vec::new();
    let mut next = Some(path);
    while let Some(dir) = next {
        if dir.as_os_str().is_empty() {
            break;
        }
        match create_dir(dir).await {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(dir);
                next = dir.parent();
            }
            Err(_) if is_dir(dir).await => break,
            Err(e) => return Err(e),
        }
    }
    for dir in missing.into_iter().rev() {
        match create_dir(dir).await {
            Ok(()) => {}
            Err(_) if is_dir(dir).await => {} // created meanwhile by someone else
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn is_dir(path: &Path) -> bool {
    metadata(path).await.is_ok_and(|m| m.is_dir())
}

/// Creates `link` as a new name of the file `original` (a hard link).
///
/// # Errors
///
/// `AlreadyExists`, `NotFound`, `CrossesDevices` …
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    link::link(cstring(original.as_ref())?, cstring(link.as_ref())?).await
}

/// Creates a symbolic link at `link` pointing to `original` (which need
/// not exist).
///
/// # Errors
///
/// `AlreadyExists`, `NotFound` (the parent of `link` is missing) …
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    symlink_op::symlink(cstring(original.as_ref())?, cstring(link.as_ref())?).await
}

/// Metadata of `path`, following symlinks.
///
/// # Errors
///
/// `NotFound`, `PermissionDenied` …
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    stat(path.as_ref(), 0).await
}

/// Metadata of `path` itself, not following a final symlink.
///
/// # Errors
///
/// As for [`metadata`].
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    stat(path.as_ref(), libc::AT_SYMLINK_NOFOLLOW).await
}

async fn stat(path: &Path, flags: i32) -> io::Result<Metadata> {
    let path = cstring(path)?;
    let flags = flags | libc::AT_STATX_SYNC_AS_STAT;
    let stx = statx::statx(None, path.into(), flags, super::metadata::MASK).await?;
    Ok(Metadata::new(stx))
}
