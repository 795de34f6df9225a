//! One run = one child process: the parent re-executes this binary as
//! `__run SCENARIO CASE PEER --n N --cpu C [--quick]`; the child pins itself
//! to CPU C, runs the peer function once and prints on stdout:
//!
//! ```text
//! ok <ops> <nanoseconds>     a measured pass
//! note <text>                optional, after `ok`
//! metric <key> <value>       optional, after `ok`, one per recorded figure
//! skip <reason>              the peer cannot take part
//! fail <message>             the peer panicked, or the run could not start
//! ```
//!
//! A fresh process per run means no runtime's leftovers (threads, rings,
//! allocator state) affect the next run.

use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::machine;
use crate::metric::{self, Metric};
use crate::scenarios::{self, Job};

/// How long one run may take before it is killed and reported as skipped.
const TIMEOUT: Duration = Duration::from_secs(300);

pub enum RunResult {
    Sample {
        ops: u64,
        nanos: u64,
        note: Option<String>,
        /// Figures the peer recorded beside its throughput.
        metrics: Vec<(Metric, f64)>,
    },
    Skipped(String),
}

impl RunResult {
    pub fn per_sec(ops: u64, nanos: u64) -> f64 {
        ops as f64 / (nanos.max(1) as f64 / 1e9)
    }
}

/// In the parent: runs one peer once in a child process pinned to `cpu`.
pub fn run_child(
    scenario: &str,
    case: &str,
    peer: &str,
    n: u64,
    cpu: usize,
    quick: bool,
) -> RunResult {
    let mut cmd = match own_executable() {
        Ok(exe) => Command::new(exe),
        Err(e) => return RunResult::Skipped(format!("cannot find own executable: {e}")),
    };
    cmd.args(["__run", scenario, case, peer]).args([
        "--n",
        &n.to_string(),
        "--cpu",
        &cpu.to_string(),
    ]);
    if quick {
        cmd.arg("--quick");
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return RunResult::Skipped(format!("cannot start child process: {e}")),
    };
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("timed out after {} s", TIMEOUT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Err(format!("waiting for child failed: {e}")),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    let status = match status {
        Ok(s) => s,
        Err(why) => return RunResult::Skipped(why),
    };
    parse(&out, &err, status)
}

/// This very binary: `/proc/self/exe`, which names the running image even
/// after a rebuild has replaced the file on disk (a shared target folder
/// during a long run), so that every child of a run is the same build as
/// the parent. Elsewhere, the path it was started from.
fn own_executable() -> std::io::Result<std::path::PathBuf> {
    let proc_exe = std::path::Path::new("/proc/self/exe");
    if proc_exe.exists() {
        Ok(proc_exe.to_path_buf())
    } else {
        std::env::current_exe()
    }
}

fn parse(out: &str, err: &str, status: std::process::ExitStatus) -> RunResult {
    let mut sample = None;
    let mut note = None;
    let mut metrics = Vec::new();
    for line in out.lines() {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "ok" => {
                let mut it = rest.split(' ').map(str::parse::<u64>);
                if let (Some(Ok(ops)), Some(Ok(nanos))) = (it.next(), it.next()) {
                    sample = Some((ops, nanos));
                }
            }
            "note" => note = Some(rest.to_string()),
            "metric" => {
                let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
                if let (Some(m), Ok(v)) = (Metric::from_key(key), value.parse()) {
                    metrics.push((m, v));
                }
            }
            "skip" => return RunResult::Skipped(rest.to_string()),
            "fail" => return RunResult::Skipped(rest.to_string()),
            _ => {}
        }
    }
    match sample {
        Some((ops, nanos)) if status.success() => RunResult::Sample {
            ops,
            nanos,
            note,
            metrics,
        },
        _ => {
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no output");
            RunResult::Skipped(format!("child exited with {status}: {last}"))
        }
    }
}

/// In the child: the `__run` subcommand.
pub fn child_main(
    scenario: &str,
    case: &str,
    peer: &str,
    n: u64,
    cpu: Option<usize>,
    quick: bool,
) -> ExitCode {
    // Report panics (in any thread) on stdout as well, in one line.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let line = format!("panicked: {msg}{at}").replace('\n', " ");
        eprintln!("{line}");
        println!("fail {line}");
        let _ = std::io::stdout().flush();
    }));

    let Some(s) = scenarios::find(scenario) else {
        println!("fail unknown scenario {scenario}");
        return ExitCode::FAILURE;
    };
    let Some(c) = s.cases.iter().find(|c| c.id == case) else {
        println!("fail unknown case {case}");
        return ExitCode::FAILURE;
    };
    let Some(p) = s.peers.iter().find(|p| p.name == peer) else {
        println!("fail unknown peer {peer}");
        return ExitCode::FAILURE;
    };
    if let Some(cpu) = cpu {
        if let Err(e) = machine::pin_to(cpu) {
            println!("fail cannot pin to CPU {cpu}: {e}");
            return ExitCode::FAILURE;
        }
    }
    match (p.run)(&Job {
        case: c.id,
        n,
        concurrency: c.concurrency,
        quick,
    }) {
        Ok(sample) => {
            println!("ok {} {}", sample.ops, sample.elapsed.as_nanos());
            if let Some(note) = sample.note {
                println!("note {}", note.replace('\n', " "));
            }
            for (m, v) in metric::take_recorded() {
                println!("metric {} {v}", m.key());
            }
            ExitCode::SUCCESS
        }
        Err(skip) => {
            println!("skip {}", skip.0.replace('\n', " "));
            ExitCode::SUCCESS
        }
    }
}
