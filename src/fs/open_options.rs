//! [`OpenOptions`]: how to open a file (`openat`/`openat2` on the ring).

use super::File;
use crate::op::fs_support::cstring;
use crate::op::open::{open, OpenArgs};
use std::io;
use std::path::Path;

/// Options for opening a file, as `std::fs::OpenOptions`, plus raw
/// `open(2)` flags (`O_DIRECT` …) and `openat2(2)` resolve flags.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use ringloop::fs::OpenOptions;
/// let file = OpenOptions::new()
///     .read(true)
///     .custom_flags(libc::O_DIRECT)
///     .open("/var/tmp/data.bin")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
    resolve: u64,
}

impl OpenOptions {
    /// All options off, mode `0o666` (before the umask).
    pub fn new() -> OpenOptions {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
            resolve: 0,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.read = read;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.write = write;
        self
    }

    /// Open for appending (`O_APPEND`: every write goes to the end, whatever
    /// its offset).
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.append = append;
        self
    }

    /// Truncate the file to 0 bytes (needs write access).
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.truncate = truncate;
        self
    }

    /// Create the file if it does not exist (needs write or append access).
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.create = create;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists.
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.create_new = create_new;
        self
    }

    /// Permission bits of a created file (before the umask).
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.mode = mode;
        self
    }

    /// Extra `open(2)` flags, such as `libc::O_DIRECT`, `O_NOATIME`,
    /// `O_DSYNC` or `O_DIRECTORY`; the access mode bits are ignored.
    /// `O_CLOEXEC` is always set.
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.custom_flags = flags;
        self
    }

    /// `openat2(2)` resolve flags: `libc::RESOLVE_BENEATH` keeps the path
    /// inside the directory given to [`open_at`](Self::open_at) (`..` and
    /// symlinks leading out fail with `EXDEV`), `RESOLVE_NO_SYMLINKS`,
    /// `RESOLVE_IN_ROOT`, `RESOLVE_NO_MAGICLINKS` …
    pub fn resolve(&mut self, flags: u64) -> &mut OpenOptions {
        self.resolve = flags;
        self
    }

    /// Opens `path` with these options.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for contradictory options (see `std`'s rules) or a
    /// path with a NUL byte; the kernel's error otherwise: `NotFound`,
    /// `PermissionDenied`, `IsADirectory`, `AlreadyExists`, `EINVAL` for
    /// `O_DIRECT` on a file system without it …
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let path = cstring(path.as_ref())?;
        let args = self.args()?;
        let direct = args.flags & libc::O_DIRECT != 0;
        let fd = open(None, path, args).await?;
        Ok(File::from_owned(fd, direct))
    }

    /// Opens `path` relative to the directory `dir` (`openat`); with
    /// [`resolve`](Self::resolve) flags, `openat2`.
    ///
    /// # Errors
    ///
    /// As for [`open`](Self::open); `NotADirectory` if `dir` is not one;
    /// `CrossesDevices` (`EXDEV`) when a resolve flag refuses the path.
    pub async fn open_at(&self, dir: &File, path: impl AsRef<Path>) -> io::Result<File> {
        let path = cstring(path.as_ref())?;
        let args = self.args()?;
        let direct = args.flags & libc::O_DIRECT != 0;
        let fd = open(Some(dir.shared_fd()), path, args).await?;
        Ok(File::from_owned(fd, direct))
    }

    fn args(&self) -> io::Result<OpenArgs> {
        Ok(OpenArgs {
            flags: self.access_mode()?
                | self.creation_mode()?
                | (self.custom_flags & !libc::O_ACCMODE),
            mode: self.mode,
            resolve: self.resolve,
        })
    }

    fn access_mode(&self) -> io::Result<i32> {
        match (self.read, self.write, self.append) {
            (true, false, false) => Ok(libc::O_RDONLY),
            (false, true, false) => Ok(libc::O_WRONLY),
            (true, true, false) => Ok(libc::O_RDWR),
            (false, _, true) => Ok(libc::O_WRONLY | libc::O_APPEND),
            (true, _, true) => Ok(libc::O_RDWR | libc::O_APPEND),
            (false, false, false) => Err(invalid(
                "no access mode: set read, write or append on the OpenOptions",
            )),
        }
    }

    fn creation_mode(&self) -> io::Result<i32> {
        match (self.write, self.append) {
            (true, false) => {}
            (false, false) => {
                if self.truncate || self.create || self.create_new {
                    return Err(invalid(
                        "creating or truncating a file needs write or append access",
                    ));
                }
            }
            (_, true) => {
                if self.truncate && !self.create_new {
                    return Err(invalid("truncate and append together make no sense"));
                }
            }
        }
        Ok(match (self.create, self.truncate, self.create_new) {
            (false, false, false) => 0,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
        })
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}
