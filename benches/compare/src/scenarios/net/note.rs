//! What a network run reports beside its throughput: the figures it
//! records ([`crate::metric`]: the parent takes their medians over the
//! rounds), the note for what is not a figure, and tokio's closed-loop
//! peak, kept in the scratch folder for the open-loop runs that follow.

use std::fs;

use super::{Figures, Load, MAX_FOREIGN};
use crate::scenarios::local::scratch_dir;
use crate::scenarios::{record, Metric};

/// Records the run's figures. The busy share only for closed loops (an
/// open loop is idle by design; a low share does not make it
/// client-bound), latency percentiles only for open loops (a closed
/// loop's latency is its throughput seen the other way round).
pub fn record_figures(f: &Figures, load: Load) {
    let timed = !matches!(load, Load::Strace);
    if timed {
        record(Metric::CpuPerOp, f.cpu_us);
        record(Metric::UserCpuPerOp, f.user_us);
    }
    if matches!(load, Load::Wrk { .. } | Load::Closed) {
        record(Metric::ServerBusy, f.busy);
    }
    if matches!(load, Load::Open { .. }) {
        record(Metric::LatencyP50, f.p50);
        record(Metric::LatencyP99, f.p99);
    }
    record(Metric::SyscallsPerOp, f.syscalls);
    record(Metric::EntersPerOp, f.enters);
}

/// The row's note: what this run measured that is not a recorded figure.
pub fn note(f: &Figures, load: Load) -> String {
    let mut parts = Vec::new();
    match load {
        Load::Strace => parts.push(
            "a separate pass under strace -f -c (not timed: strace slows the server), \
             connects and closes included"
                .to_string(),
        ),
        Load::Open { percent } => parts.push(format!(
            "asked {:.0} req/s ({percent}% of tokio's closed-loop peak), reached {:.0}",
            f.target, f.rate
        )),
        Load::Wrk { .. } | Load::Closed => {}
    }
    if !matches!(load, Load::Strace) {
        parts.push(format!("server process {:.0}% of a core", f.share));
        let retried = if f.attempts > 1.0 {
            format!(", after {} attempts", f.attempts)
        } else {
            String::new()
        };
        let disturbed = if f.foreign > MAX_FOREIGN {
            " (disturbed)"
        } else {
            ""
        };
        parts.push(format!(
            "other processes on the two CPUs {:.0}%{disturbed}{retried}",
            f.foreign
        ));
        parts.push(format!("server thread sleeps {:.3} per request", f.sleeps));
    }
    for (name, v) in [
        ("epoll_wait", f.epoll_waits),
        ("read/write-family calls", f.rw),
    ] {
        if v.is_finite() {
            parts.push(format!("{name} {v:.3} per request"));
        }
    }
    if f.cqes.is_finite() {
        parts.push(format!("{:.1} CQEs per enter", f.cqes));
    }
    parts.join("; ")
}

fn peak_file(scenario: &str) -> std::path::PathBuf {
    scratch_dir().join(format!("{scenario}.peak"))
}

/// tokio's closed-loop peak of `scenario` (requests / s), if measured
/// already in this invocation.
pub fn peak(scenario: &str) -> Option<f64> {
    fs::read_to_string(peak_file(scenario))
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn set_peak(scenario: &str, rate: f64) {
    let path = peak_file(scenario);
    let _ = fs::create_dir_all(scratch_dir()).and_then(|()| fs::write(path, rate.to_string()));
}
