//! A small harness for interleaved benchmark rounds on a noisy machine.
//!
//! Each case runs once per round, rounds interleave the cases (A B C A B C
//! …), and the report gives the median, min and max of each case, plus
//! ratios between named cases, all measured in the same run.
//!
//! Environment: `BENCH_ROUNDS` (default 5), `BENCH_QUICK=1` (smaller sizes,
//! 3 rounds). The process pins itself to CPU 0 (`BENCH_CPU` to change).

#![allow(dead_code)]

use std::time::Instant;

/// One case: a name and a closure that runs once and returns a rate.
pub struct Case<'a> {
    pub name: &'static str,
    pub run: Box<dyn FnMut() -> f64 + 'a>,
}

pub struct Summary {
    pub name: &'static str,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn quick() -> bool {
    std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1")
}

pub fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick() { 3 } else { 5 })
}

/// Pins this thread to one CPU, so runs do not migrate between cores.
pub fn pin() {
    let cpu: usize = std::env::var("BENCH_CPU")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes
    // inside it; sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Runs every case once per round, interleaved; returns per-case summaries.
pub fn interleave(cases: &mut [Case<'_>]) -> Vec<Summary> {
    let rounds = rounds();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for round in 0..rounds {
        for (i, case) in cases.iter_mut().enumerate() {
            let v = (case.run)();
            eprintln!(
                "  round {}/{rounds} {:<28} {}",
                round + 1,
                case.name,
                human(v)
            );
            samples[i].push(v);
        }
    }
    cases
        .iter()
        .zip(samples)
        .map(|(case, mut s)| {
            s.sort_by(f64::total_cmp);
            Summary {
                name: case.name,
                median: s[s.len() / 2],
                min: s[0],
                max: s[s.len() - 1],
            }
        })
        .collect()
}

pub fn human(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.2}")
    }
}

/// Prints a Markdown table of the summaries, with the unit.
pub fn print_table(title: &str, unit: &str, summaries: &[Summary]) {
    println!("\n### {title}\n");
    println!("| case | median {unit} | min | max |");
    println!("|---|---:|---:|---:|");
    for s in summaries {
        println!(
            "| {} | {} | {} | {} |",
            s.name,
            human(s.median),
            human(s.min),
            human(s.max)
        );
    }
}

/// Prints `a / b` of medians.
pub fn print_ratio(summaries: &[Summary], a: &str, b: &str) {
    let find = |n: &str| summaries.iter().find(|s| s.name == n).map(|s| s.median);
    if let (Some(x), Some(y)) = (find(a), find(b)) {
        println!("\nratio {a} / {b} = **{:.2}x** (medians, same run)", x / y);
    }
}

/// Rate of `n` events over the time `f` takes.
pub fn rate(n: u64, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    n as f64 / t.elapsed().as_secs_f64()
}

pub fn header(what: &str) {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_string();
    println!(
        "## {what}\n\nkernel {}, {cpu}, {} cores; {} rounds interleaved{}",
        kernel.trim(),
        // SAFETY: sysconf has no memory-safety preconditions.
        unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) },
        rounds(),
        if quick() { " (quick)" } else { "" }
    );
}
