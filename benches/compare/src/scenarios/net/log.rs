//! The per-run log of a (scenario, case, peer) in the suite's scratch
//! folder, the note that summarizes it, and tokio's peak for the open loop.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::tools::scratch_dir;
use super::{Figures, Load, MAX_FOREIGN};

/// One field of [`Figures`].
type Field = fn(&mut Figures) -> &mut f64;

/// The fields of [`Figures`] in the order a log line holds them.
const FIELDS: [Field; 15] = [
    |f| &mut f.rate,
    |f| &mut f.target,
    |f| &mut f.cpu_us,
    |f| &mut f.busy,
    |f| &mut f.share,
    |f| &mut f.foreign,
    |f| &mut f.sleeps,
    |f| &mut f.p50,
    |f| &mut f.p99,
    |f| &mut f.syscalls,
    |f| &mut f.enters,
    |f| &mut f.epoll_waits,
    |f| &mut f.rw,
    |f| &mut f.cqes,
    |f| &mut f.attempts,
];

fn to_line(f: &Figures) -> String {
    let mut f = *f;
    let v: Vec<String> = FIELDS.iter().map(|g| g(&mut f).to_string()).collect();
    v.join(" ") + "\n"
}

fn from_line(line: &str) -> Option<Figures> {
    let v: Vec<f64> = line
        .split(' ')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() != FIELDS.len() {
        return None;
    }
    let mut f = Figures::default();
    for (g, x) in FIELDS.iter().zip(v) {
        *g(&mut f) = x;
    }
    Some(f)
}

fn path(name: &str) -> PathBuf {
    scratch_dir().join("net-runs").join(name)
}

fn append_line(path: &Path, line: &str) -> io::Result<()> {
    fs::create_dir_all(path.parent().expect("has a parent"))?;
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(line.as_bytes())
}

fn read(path: &Path) -> Vec<Figures> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(from_line).collect()
}

/// Appends this run's figures to the log of (scenario, case, peer);
/// returns every run logged so far, this one included.
pub fn append(scenario: &str, case: &str, peer: &str, f: &Figures) -> Vec<Figures> {
    let path = path(&format!("{scenario}.{case}.{peer}"));
    let _ = append_line(&path, &to_line(f));
    let runs = read(&path);
    if runs.is_empty() {
        vec![*f]
    } else {
        runs
    }
}

/// tokio's closed-loop peak of `scenario`, if measured already.
pub fn peak(scenario: &str) -> Option<Figures> {
    read(&path(&format!("{scenario}.peak"))).pop()
}

pub fn set_peak(scenario: &str, f: &Figures) {
    let _ = append_line(&path(&format!("{scenario}.peak")), &to_line(f));
}

/// Median, min and max of a field over the runs (NaN values left out).
fn spread(runs: &[Figures], field: fn(&Figures) -> f64) -> Option<(f64, f64, f64)> {
    let v: Vec<f64> = runs.iter().map(field).filter(|x| x.is_finite()).collect();
    let s = crate::stats::summarize(&v)?;
    Some((s.median, s.min, s.max))
}

/// The row's note: medians (min–max) over every run so far.
pub fn summarize(runs: &[Figures], load: Load) -> String {
    let mut parts = vec![format!("{} runs, medians (min–max)", runs.len())];
    match load {
        Load::Strace => parts.push(
            "a separate pass under strace -f -c (not timed: strace slows the server), \
             connects and closes included"
                .into(),
        ),
        Load::Open { percent } => {
            if let (Some((target, _, _)), Some((m, lo, hi))) =
                (spread(runs, |f| f.target), spread(runs, |f| f.rate))
            {
                parts.push(format!(
                    "asked {target:.0} req/s ({percent}% of tokio's closed-loop peak), reached \
                     {m:.0} ({lo:.0}–{hi:.0})"
                ));
            }
        }
        Load::Wrk { .. } | Load::Closed => {}
    }
    let closed = matches!(load, Load::Wrk { .. } | Load::Closed);
    if let Some((m, lo, hi)) = spread(runs, |f| f.cpu_us).filter(|s| s.0 > 0.0) {
        parts.push(format!("server CPU {m:.2} µs/req ({lo:.2}–{hi:.2})"));
    }
    if let Some((m, lo, hi)) = spread(runs, |f| f.busy).filter(|_| load_is_timed(load)) {
        let label = match (closed, m < 95.0) {
            (false, _) => "",
            (true, true) => " — CLIENT-BOUND (under 95%)",
            (true, false) => " — server-bound",
        };
        let under = runs.iter().filter(|f| f.busy < 95.0).count();
        let some = if closed && m >= 95.0 && under > 0 {
            format!(", {under} run(s) under 95%")
        } else {
            String::new()
        };
        parts.push(format!(
            "server core busy {m:.0}% ({lo:.0}–{hi:.0}){label}{some}"
        ));
    }
    if let Some((m, lo, hi)) = spread(runs, |f| f.share).filter(|_| load_is_timed(load)) {
        parts.push(format!(
            "server process {m:.0}% of a core ({lo:.0}–{hi:.0})"
        ));
    }
    if let Some((m, _, hi)) = spread(runs, |f| f.foreign).filter(|_| load_is_timed(load)) {
        let retried = runs.iter().filter(|f| f.attempts > 1.0).count();
        let disturbed = runs.iter().filter(|f| f.foreign > MAX_FOREIGN).count();
        parts.push(format!(
            "other processes on the two CPUs {m:.0}% (max {hi:.0}; {retried} run(s) retried, \
             {disturbed} still above {MAX_FOREIGN:.0}%)"
        ));
    }
    let who = if matches!(load, Load::Wrk { .. }) {
        "wrk"
    } else {
        "echo_client"
    };
    // wrk reports no latency distribution for pipelined requests (0s).
    if let (Some((p50, _, _)), Some((p99, lo, hi))) = (
        spread(runs, |f| f.p50).filter(|p| p.0 > 0.0),
        spread(runs, |f| f.p99).filter(|p| p.0 > 0.0),
    ) {
        parts.push(format!(
            "{who} latency p50 {p50:.0} µs, p99 {p99:.0} µs ({lo:.0}–{hi:.0})"
        ));
    }
    if let Some((m, lo, hi)) = spread(runs, |f| f.sleeps).filter(|_| load_is_timed(load)) {
        parts.push(format!(
            "server thread sleeps {m:.3} per request ({lo:.3}–{hi:.3})"
        ));
    }
    let what = if matches!(load, Load::Strace) {
        "syscalls"
    } else {
        "I/O syscalls (ringloop's counters)"
    };
    for (name, field) in [
        (what, (|f| f.syscalls) as fn(&Figures) -> f64),
        ("io_uring_enter", |f| f.enters),
        ("epoll_wait", |f| f.epoll_waits),
        ("read/write-family calls", |f| f.rw),
    ] {
        if let Some((m, lo, hi)) = spread(runs, field) {
            parts.push(format!("{name} {m:.3} per request ({lo:.3}–{hi:.3})"));
        }
    }
    if let Some((m, _, _)) = spread(runs, |f| f.cqes) {
        parts.push(format!("{m:.1} CQEs per enter"));
    }
    parts.join("; ")
}

/// Whether the run's /proc readings mean anything (not under strace).
fn load_is_timed(load: Load) -> bool {
    !matches!(load, Load::Strace)
}
