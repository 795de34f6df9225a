//! Setting up a ring: flags with fallback, and the error that says why
//! io_uring cannot be used at all.

use io_uring::IoUring;
use std::fmt;
use std::io;

/// io_uring setup flags ringloop knows how to use.
///
/// The runtime asks for [`SetupFlags::DEFAULT`] and drops flags one by one
/// while the kernel answers `EINVAL` (older kernels), so a program never
/// needs a feature switch per kernel version. [`crate::Runtime::setup_flags`]
/// tells what the kernel accepted.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SetupFlags(u32);

impl SetupFlags {
    /// No flags.
    pub const NONE: SetupFlags = SetupFlags(0);
    /// `IORING_SETUP_SUBMIT_ALL`: keep submitting after an SQE fails inline.
    pub const SUBMIT_ALL: SetupFlags = SetupFlags(1);
    /// `IORING_SETUP_COOP_TASKRUN`: no IPI to interrupt us for task work.
    pub const COOP_TASKRUN: SetupFlags = SetupFlags(2);
    /// `IORING_SETUP_TASKRUN_FLAG`: the kernel flags pending task work in the SQ ring.
    pub const TASKRUN_FLAG: SetupFlags = SetupFlags(4);
    /// `IORING_SETUP_SINGLE_ISSUER`: only this thread submits.
    pub const SINGLE_ISSUER: SetupFlags = SetupFlags(8);
    /// `IORING_SETUP_DEFER_TASKRUN`: completions are run only when we enter
    /// to wait, in batches, on our thread.
    pub const DEFER_TASKRUN: SetupFlags = SetupFlags(16);
    /// What the runtime asks for by default.
    pub const DEFAULT: SetupFlags = SetupFlags(1 | 4 | 8 | 16);

    const NAMES: [(SetupFlags, &'static str); 5] = [
        (SetupFlags::SUBMIT_ALL, "SUBMIT_ALL"),
        (SetupFlags::COOP_TASKRUN, "COOP_TASKRUN"),
        (SetupFlags::TASKRUN_FLAG, "TASKRUN_FLAG"),
        (SetupFlags::SINGLE_ISSUER, "SINGLE_ISSUER"),
        (SetupFlags::DEFER_TASKRUN, "DEFER_TASKRUN"),
    ];

    /// Whether every flag of `other` is set in `self`.
    pub fn contains(self, other: SetupFlags) -> bool {
        self.0 & other.0 == other.0
    }

    fn without(self, other: SetupFlags) -> SetupFlags {
        SetupFlags(self.0 & !other.0)
    }
}

impl std::ops::BitOr for SetupFlags {
    type Output = SetupFlags;
    fn bitor(self, rhs: SetupFlags) -> SetupFlags {
        SetupFlags(self.0 | rhs.0)
    }
}

impl fmt::Debug for SetupFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Self::NAMES
            .iter()
            .filter(|(flag, _)| self.contains(*flag))
            .map(|(_, name)| *name)
            .collect();
        if names.is_empty() {
            f.write_str("NONE")
        } else {
            f.write_str(&names.join("|"))
        }
    }
}

/// io_uring cannot be used on this machine: the kernel lacks it, forbids it
/// (seccomp, `kernel.io_uring_disabled`), or is too old for ringloop.
///
/// Carried inside the [`io::Error`] that [`crate::Runtime::new`] returns;
/// get it back with `err.get_ref().and_then(|e| e.downcast_ref())`.
#[derive(Debug)]
pub struct UringUnavailable {
    errno: Option<i32>,
    reason: String,
}

impl UringUnavailable {
    /// The errno `io_uring_setup` failed with, if it failed.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }

    pub(crate) fn from_setup_error(err: &io::Error) -> io::Error {
        let errno = err.raw_os_error();
        let (kind, reason) = match errno {
            Some(libc::ENOSYS) => (
                io::ErrorKind::Unsupported,
                "io_uring_setup returned ENOSYS: this kernel has no io_uring".to_string(),
            ),
            Some(libc::EPERM) | Some(libc::EACCES) => {
                let sysctl = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
                    .unwrap_or_default();
                let why = match sysctl.trim() {
                    "2" => "the sysctl kernel.io_uring_disabled=2 forbids it",
                    "1" => "the sysctl kernel.io_uring_disabled=1 allows it only to the io_uring_group",
                    _ => "denied by the kernel, most likely a seccomp filter (Docker's default profile denies io_uring)",
                };
                (
                    io::ErrorKind::PermissionDenied,
                    format!("io_uring_setup returned {err}: {why}"),
                )
            }
            Some(libc::ENOMEM) => (
                io::ErrorKind::OutOfMemory,
                format!("io_uring_setup returned {err}: the ring's memory could not be locked (RLIMIT_MEMLOCK?)"),
            ),
            _ => (err.kind(), format!("io_uring_setup failed: {err}")),
        };
        io::Error::new(kind, UringUnavailable { errno, reason })
    }
}

impl fmt::Display for UringUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "io_uring is unavailable: {}", self.reason)
    }
}

impl std::error::Error for UringUnavailable {}

/// Ring parameters chosen by the runtime's builder.
pub(crate) struct RingConfig {
    pub(crate) entries: u32,
    pub(crate) cq_entries: Option<u32>,
    pub(crate) flags: SetupFlags,
    /// Enter the kernel after every op instead of once per park (a
    /// deliberately naive mode, to show what batching buys).
    pub(crate) submit_each_op: bool,
    /// Share the io-wq worker pool of this ring (`IORING_SETUP_ATTACH_WQ`).
    pub(crate) attach_wq: Option<std::os::fd::RawFd>,
}

/// Fails unless the kernel has what ringloop cannot do without.
pub(crate) fn check_features(ring: &IoUring) -> io::Result<()> {
    let params = ring.params();
    if params.is_feature_nodrop() && params.is_feature_ext_arg() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        UringUnavailable {
            errno: None,
            reason: "the kernel lacks IORING_FEAT_NODROP or IORING_FEAT_EXT_ARG; \
                     ringloop needs Linux 5.11 or newer"
                .into(),
        },
    ))
}

/// Builds the ring, dropping flags one by one on `EINVAL`.
pub(crate) fn build_ring(config: &RingConfig) -> io::Result<(IoUring, SetupFlags)> {
    const DROP_ORDER: [SetupFlags; 5] = [
        SetupFlags::DEFER_TASKRUN,
        SetupFlags::SINGLE_ISSUER,
        SetupFlags::TASKRUN_FLAG,
        SetupFlags::COOP_TASKRUN,
        SetupFlags::SUBMIT_ALL,
    ];
    let mut flags = config.flags;
    let mut next_drop = 0;
    loop {
        let mut builder = IoUring::builder();
        builder.dontfork();
        if let Some(cq) = config.cq_entries {
            builder.setup_cqsize(cq);
        }
        if let Some(fd) = config.attach_wq {
            builder.setup_attach_wq(fd);
        }
        if flags.contains(SetupFlags::SUBMIT_ALL) {
            builder.setup_submit_all();
        }
        if flags.contains(SetupFlags::COOP_TASKRUN) {
            builder.setup_coop_taskrun();
        }
        if flags.contains(SetupFlags::TASKRUN_FLAG) {
            builder.setup_taskrun_flag();
        }
        if flags.contains(SetupFlags::SINGLE_ISSUER) {
            builder.setup_single_issuer();
        }
        if flags.contains(SetupFlags::DEFER_TASKRUN) {
            builder.setup_defer_taskrun();
        }
        #[cfg(feature = "fault-injection")]
        let built = match super::fault::on_setup() {
            Some(err) => Err(err),
            None => builder.build(config.entries),
        };
        #[cfg(not(feature = "fault-injection"))]
        let built = builder.build(config.entries);
        match built {
            Ok(ring) => return Ok((ring, flags)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && flags != SetupFlags::NONE => {
                while next_drop < DROP_ORDER.len() && !flags.contains(DROP_ORDER[next_drop]) {
                    next_drop += 1;
                }
                let Some(&flag) = DROP_ORDER.get(next_drop) else {
                    return Err(UringUnavailable::from_setup_error(&e));
                };
                flags = flags.without(flag);
                if flag == SetupFlags::DEFER_TASKRUN {
                    // The next best thing: no interrupts for task work.
                    flags = flags | SetupFlags::COOP_TASKRUN;
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "io_uring_setup rejected {} SQ entries (cq: {:?}): {e}",
                        config.entries, config.cq_entries
                    ),
                ));
            }
            Err(e) => return Err(UringUnavailable::from_setup_error(&e)),
        }
    }
}
