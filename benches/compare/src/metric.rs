//! Figures measured beside a run's throughput: CPU and syscalls per op, how
//! busy the server's core was, memory per task, latency percentiles.
//!
//! A peer function (in the child process) calls [`record`] with what it
//! measured; the child prints each as a `metric KEY VALUE` line after its
//! `ok` line (see `runner`), and the parent summarizes them over the rounds
//! like the throughput. [`crate::scenarios::measure`] and
//! [`crate::scenarios::measure_blocking`] record [`Metric::CpuPerOp`] by
//! themselves; network scenarios record the server's figures.

use std::sync::Mutex;
use std::time::Duration;

/// One kind of figure. The report shows a column for each kind that any
/// peer of a scenario recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// CPU time per op, µs: the peer's process (`getrusage`, every thread)
    /// for in-process scenarios, the server process for network ones (its
    /// CPU-time clock, in nanoseconds).
    CpuPerOp,
    /// The user-space part of [`Metric::CpuPerOp`], µs: what the runtime
    /// and the program spend outside the kernel (the rest is the kernel's
    /// work, which every peer doing the same I/O pays alike). Split by the
    /// kernel's own accounting (`getrusage`, `/proc/PID/stat`), which
    /// samples user/system at ticks and scales the two to the exact total.
    UserCpuPerOp,
    /// CPU time per MiB moved, µs, where the op is a byte (`cp`: the
    /// copying processes).
    CpuPerMiB,
    /// Syscalls per op where they were counted (ringloop's own counters,
    /// the raw loop's submit calls, a scenario's strace or `/proc` count).
    SyscallsPerOp,
    /// `io_uring_enter` calls per op, where counted apart from the other
    /// syscalls (ringloop's counters, a network scenario's strace pass).
    EntersPerOp,
    /// How busy the server's core was over the measured part, % of wall
    /// time. Under [`CLIENT_BOUND_BELOW`] the throughput is labelled
    /// client-bound: the load generator, not the server, set the pace.
    ServerBusy,
    /// Resident memory per task, bytes (RSS delta / tasks).
    BytesPerTask,
    /// Latency percentiles, µs.
    LatencyP50,
    LatencyP99,
}

/// A server core busy less than this (%) makes a throughput client-bound.
pub const CLIENT_BOUND_BELOW: f64 = 95.0;

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::CpuPerOp,
        Metric::UserCpuPerOp,
        Metric::CpuPerMiB,
        Metric::SyscallsPerOp,
        Metric::EntersPerOp,
        Metric::ServerBusy,
        Metric::BytesPerTask,
        Metric::LatencyP50,
        Metric::LatencyP99,
    ];

    /// The name in the child's output.
    pub fn key(self) -> &'static str {
        match self {
            Metric::CpuPerOp => "cpu_us_per_op",
            Metric::UserCpuPerOp => "user_cpu_us_per_op",
            Metric::CpuPerMiB => "cpu_us_per_mib",
            Metric::SyscallsPerOp => "syscalls_per_op",
            Metric::EntersPerOp => "enters_per_op",
            Metric::ServerBusy => "server_busy_pct",
            Metric::BytesPerTask => "bytes_per_task",
            Metric::LatencyP50 => "latency_p50_us",
            Metric::LatencyP99 => "latency_p99_us",
        }
    }

    pub fn from_key(key: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.key() == key)
    }

    /// Column heading (`{unit}` is the scenario's op, e.g. `read`).
    pub fn heading(self) -> &'static str {
        match self {
            Metric::CpuPerOp => "CPU µs/op",
            Metric::UserCpuPerOp => "of which user µs/op",
            Metric::CpuPerMiB => "CPU µs/MiB",
            Metric::SyscallsPerOp => "syscalls/op",
            Metric::EntersPerOp => "io_uring_enter/op",
            Metric::ServerBusy => "server core busy",
            Metric::BytesPerTask => "memory B/task",
            Metric::LatencyP50 => "latency p50 µs",
            Metric::LatencyP99 => "latency p99 µs",
        }
    }

    /// Whether ringloop's ratio to the best peer is worked out for this
    /// figure too (it is what the scenario is about, not a diagnostic).
    pub fn ranked(self) -> bool {
        matches!(
            self,
            Metric::BytesPerTask | Metric::LatencyP50 | Metric::LatencyP99
        )
    }

    /// Lower is better for every figure but the busy share (which is
    /// neither: it says how to read the throughput).
    pub fn lower_is_better(self) -> bool {
        !matches!(self, Metric::ServerBusy)
    }

    /// The value as shown: 3 significant digits, `%` for the busy share.
    pub fn format(self, v: f64) -> String {
        match self {
            Metric::ServerBusy => format!("{v:.0}%"),
            _ => significant(v),
        }
    }
}

/// `v` with 3 significant digits (no exponent; integers above 100 whole).
pub fn significant(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        let decimals = (2.0 - a.log10().floor()) as usize;
        format!("{v:.decimals$}")
    }
}

static RECORDED: Mutex<Vec<(Metric, f64)>> = Mutex::new(Vec::new());

/// Records a figure of this run (in the child). A later value of the same
/// metric replaces an earlier one; non-finite values are ignored.
pub fn record(metric: Metric, value: f64) {
    if !value.is_finite() {
        return;
    }
    let mut v = RECORDED.lock().unwrap_or_else(|e| e.into_inner());
    v.retain(|(m, _)| *m != metric);
    v.push((metric, value));
}

/// Everything recorded so far, emptied.
pub fn take_recorded() -> Vec<(Metric, f64)> {
    std::mem::take(&mut *RECORDED.lock().unwrap_or_else(|e| e.into_inner()))
}

/// CPU time of this process so far (every thread), from `getrusage`.
pub fn process_cpu() -> CpuTime {
    rusage_cpu(libc::RUSAGE_SELF)
}

/// CPU time of this process's children that were waited for.
pub fn children_cpu() -> Duration {
    rusage_cpu(libc::RUSAGE_CHILDREN).total()
}

/// CPU time split into user and system (kernel) time.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTime {
    pub user: Duration,
    pub system: Duration,
}

impl CpuTime {
    pub fn total(self) -> Duration {
        self.user + self.system
    }

    /// `self - earlier`, field by field (never negative).
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

fn rusage_cpu(who: libc::c_int) -> CpuTime {
    // SAFETY: a zeroed rusage is valid; the kernel fills it.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    CpuTime {
        user: tv(ru.ru_utime),
        system: tv(ru.ru_stime),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::from_key(m.key()), Some(m));
        }
    }

    #[test]
    fn three_significant_digits() {
        assert_eq!(significant(1234.5), "1234");
        assert_eq!(significant(12.345), "12.3");
        assert_eq!(significant(1.2345), "1.23");
        assert_eq!(significant(0.012345), "0.0123");
        assert_eq!(significant(0.0), "0");
    }

    #[test]
    fn later_values_replace_earlier() {
        record(Metric::LatencyP50, 1.0);
        record(Metric::LatencyP50, 2.0);
        record(Metric::LatencyP99, f64::NAN);
        assert_eq!(take_recorded(), vec![(Metric::LatencyP50, 2.0)]);
        assert!(take_recorded().is_empty());
    }
}
