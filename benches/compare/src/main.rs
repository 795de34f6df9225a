//! ringloop-compare: ringloop side by side with other Rust io_uring runtimes.
//!
//! `cargo run --release -p ringloop-compare -- [all|SCENARIO...] [--quick] [--rounds N] [--write]`
//! (and `--peers`, `--cases`, `--out FILE`: see `--help`)
//!
//! This file holds the command line and the orchestration: every run of every
//! peer is a child process of this same binary (see `runner`), pinned to one
//! CPU, and the rounds are interleaved so that slow drifts of a shared machine
//! hit every peer alike. `--write` turns the results into BENCHMARKS.md and
//! one chart per scenario (see `output`).

mod chart;
mod explain;
mod machine;
mod metric;
mod output;
mod report;
mod runner;
mod scenarios;
mod stats;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand};

use metric::Metric;
use report::{CaseReport, Header, Row};
use runner::RunResult;
use scenarios::Scenario;

/// Rounds by default, and with `--quick`.
const ROUNDS: u32 = 5;
const QUICK_ROUNDS: u32 = 1;

#[derive(Parser)]
#[command(
    name = "ringloop-compare",
    about = "Compare ringloop with other Rust io_uring runtimes, scenario by scenario",
    args_conflicts_with_subcommands = true,
    after_help = scenarios_help()
)]
struct Cli {
    #[command(subcommand)]
    child: Option<Child>,

    /// Scenarios to run; `all` (the default) runs every one.
    #[arg(value_name = "SCENARIO", value_parser = PossibleValuesParser::new(scenario_names()))]
    scenarios: Vec<String>,

    /// Each case's quick size (`Case::n_quick`; cases without one are left
    /// out) and 1 round instead of 5: `all --quick` takes under 3 minutes
    /// on 2 cores.
    #[arg(long)]
    quick: bool,

    /// Rounds, i.e. runs of each peer (default 5, or 1 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    rounds: Option<u32>,

    /// Write BENCHMARKS.md at the repository root and one SVG chart per
    /// scenario in docs/bench/ (replacing them).
    #[arg(long)]
    write: bool,

    /// Like --write, into DIR instead of the repository root
    /// (DIR/BENCHMARKS.md, DIR/docs/bench/*.svg).
    #[arg(long, value_name = "DIR")]
    write_to: Option<PathBuf>,

    /// Also append the results to FILE as a Markdown section.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Run only these peers (comma-separated), e.g. `--peers ringloop,monoio`.
    #[arg(long, value_name = "PEER,...", value_delimiter = ',')]
    peers: Vec<String>,

    /// Run only these cases (comma-separated ids, as in BENCHMARKS.md), e.g.
    /// `http --cases open50 --rounds 15`: many rounds of one case without
    /// the rest of its scenario.
    #[arg(long, value_name = "CASE,...", value_delimiter = ',')]
    cases: Vec<String>,
}

#[derive(Subcommand)]
enum Child {
    /// One run of one peer (used by the suite itself).
    #[command(name = "__run", hide = true)]
    Run {
        scenario: String,
        case: String,
        peer: String,
        #[arg(long)]
        n: u64,
        #[arg(long)]
        cpu: Option<usize>,
        #[arg(long)]
        quick: bool,
    },
}

fn scenario_names() -> Vec<&'static str> {
    std::iter::once("all")
        .chain(scenarios::ALL.iter().map(|s| s.name))
        .collect()
}

fn scenarios_help() -> String {
    let mut s = String::from("Scenarios:\n");
    for sc in scenarios::ALL {
        let peers: Vec<_> = sc.peers.iter().map(|p| p.name).collect();
        s += &format!(
            "  {:<15} {}\n                  peers: {}\n",
            sc.name,
            sc.about,
            peers.join(", ")
        );
    }
    s
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Child::Run {
        scenario,
        case,
        peer,
        n,
        cpu,
        quick,
    }) = &cli.child
    {
        return runner::child_main(scenario, case, peer, *n, *cpu, *quick);
    }
    match suite(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn selected(cli: &Cli) -> Result<Vec<&'static Scenario>, String> {
    if cli.scenarios.is_empty() || cli.scenarios.iter().any(|s| s == "all") {
        return Ok(scenarios::ALL.to_vec());
    }
    // In the order given, without repeats.
    let mut v: Vec<&Scenario> = Vec::new();
    for name in &cli.scenarios {
        let s = scenarios::find(name).ok_or_else(|| format!("unknown scenario {name}"))?;
        if !v.iter().any(|x| x.name == s.name) {
            v.push(s);
        }
    }
    Ok(v)
}

/// An error naming the first of `asked` (peers or cases, by `what`) that is
/// not in `known`, the names the selected scenarios have.
fn all_known(what: &str, asked: &[String], known: &[&str]) -> Result<(), String> {
    match asked.iter().find(|a| !known.contains(&a.as_str())) {
        Some(a) => Err(format!(
            "unknown {what} {a:?}; the selected scenarios have {known:?}"
        )),
        None => Ok(()),
    }
}

fn suite(cli: &Cli) -> Result<(), String> {
    let started = Instant::now();
    let selected = selected(cli)?;
    let peers: Vec<_> = selected
        .iter()
        .flat_map(|s| s.peers.iter().map(|q| q.name))
        .collect();
    all_known("peer", &cli.peers, &peers)?;
    let case_ids: Vec<_> = selected
        .iter()
        .flat_map(|s| s.cases.iter().map(|k| k.id))
        .collect();
    all_known("case", &cli.cases, &case_ids)?;
    let rounds = cli
        .rounds
        .unwrap_or(if cli.quick { QUICK_ROUNDS } else { ROUNDS });

    // The children run on the first CPU we may use; the parent keeps off it.
    let m = machine::describe();
    let child_cpu = m.allowed.first().copied().unwrap_or(0);
    if let Some(&other) = m.allowed.get(1) {
        let _ = machine::pin_to(other);
    }
    let mut header = header(cli, &m, rounds, child_cpu, &selected);
    let estimate = estimate(&selected, cli, rounds);
    println!("ringloop-compare, {}", header.date);
    println!(
        "estimated wall time: about {:.1} min ({estimate:.0} s; more if disturbed network runs \
         are re-run or examples are built on first use)",
        estimate / 60.0
    );
    println!("machine: {}", header.machine);
    println!("versions: {}", header.versions);
    println!("method: {}\n", header.method);

    // Scratch space for scenarios that need files (created by the children
    // that need them, under /var/tmp: a disk, where O_DIRECT works), removed
    // at the end.
    let scratch = PathBuf::from(format!("/var/tmp/ringloop-compare.{}", std::process::id()));
    std::env::set_var("RINGLOOP_COMPARE_SCRATCH", &scratch);

    let mut reports = Vec::new();
    let mut times = Vec::new();
    for s in &selected {
        let t = Instant::now();
        for case in cases(s, cli) {
            let r = run_case(s, case, cli, rounds, child_cpu);
            println!("{}", report::text(&r));
            let _ = std::io::stdout().flush();
            reports.push(r);
        }
        times.push(format!("{} {:.0} s", s.name, t.elapsed().as_secs_f64()));
    }

    let _ = std::fs::remove_dir_all(&scratch);

    let wall = started.elapsed().as_secs_f64();
    header.extra.push(format!(
        "finished: {}, load average at the end: {}",
        machine::utc_now(),
        machine::load_average()
    ));
    header
        .extra
        .push(format!("wall time: {wall:.0} s ({})", times.join(", ")));
    if let Some(path) = &cli.out {
        let md = report::append_section(&header, &reports);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        f.write_all(md.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("appended the results to {}", path.display());
    }
    if let Some(root) = output::root(cli.write, cli.write_to.as_deref()) {
        let written = output::write(&root, &header, &reports)?;
        println!("wrote {}", written.join(", "));
    }
    println!("per scenario: {}", times.join(", "));
    println!("total wall time: {wall:.1} s");
    Ok(())
}

/// Everything the report says about the run but its results.
fn header(
    cli: &Cli,
    m: &machine::Machine,
    rounds: u32,
    child_cpu: usize,
    selected: &[&'static Scenario],
) -> Header {
    let memory = machine::memory_gib().map_or(String::new(), |g| format!(", {g:.0} GiB"));
    let omitted: Vec<String> = selected
        .iter()
        .flat_map(|s| {
            s.cases
                .iter()
                .filter(|c| c.n_quick == 0)
                .map(|c| format!("{} {}", s.name, c.id))
        })
        .collect();
    let partial = if cli.quick {
        Some(format!(
            "A quick run (small sizes, one round): for a look, not for the record. Quick mode \
             omits the cases that have no quick size: {}.",
            omitted.join(", ")
        ))
    } else if cli.rounds.is_some_and(|r| r < ROUNDS) {
        Some("A run with fewer rounds than the full one: for a look, not for the record.".into())
    } else if selected.len() < scenarios::ALL.len()
        || !cli.peers.is_empty()
        || !cli.cases.is_empty()
    {
        Some("A partial run: not every scenario, case or peer took part.".into())
    } else {
        None
    };
    Header {
        date: machine::utc_now(),
        command: command_line(),
        machine: format!(
            "Linux {}, {}, {} cores{memory} (allowed CPUs: {:?})",
            m.kernel, m.cpu_model, m.cores, m.allowed
        ),
        method: format!(
            "every run is a fresh child process pinned to CPU {child_cpu} (load generators, \
             where a scenario has one, on the other CPU); {rounds} round{}, peers interleaved \
             within each round; in-process scenarios run an untimed warm-up pass of N/10, then \
             one timed pass of N in the same runtime; median, min and max over the rounds; \
             with 5 rounds or more, ringloop against the best other peer also as the median \
             of its ratios paired by round{}",
            if rounds == 1 { "" } else { "s" },
            if cli.quick { "; --quick sizes" } else { "" }
        ),
        versions: format!(
            "ringloop {} ({}), monoio {}, tokio-uring {}, compio {}, glommio {}, tokio {}, \
             io-uring {}, hyper {}",
            env!("VERSION_RINGLOOP"),
            machine::ringloop_revision(),
            env!("VERSION_MONOIO"),
            env!("VERSION_TOKIO_URING"),
            env!("VERSION_COMPIO"),
            env!("VERSION_GLOMMIO"),
            env!("VERSION_TOKIO"),
            env!("VERSION_IO_URING"),
            env!("VERSION_HYPER"),
        ),
        extra: vec![
            format!(
                "load average (1, 5, 15 min) at the start: {}",
                machine::load_average()
            ),
            format!(
                "external tools: {}; {}",
                machine::tool_version("fio", "--version"),
                machine::tool_version("wrk", "-v")
            ),
            match machine::syscall_round_trip_ns(child_cpu) {
                Some(ns) => format!(
                    "one syscall round trip on CPU {child_cpu} (getppid; median of 5 loops of \
                     200,000): {ns:.0} ns"
                ),
                None => "one syscall round trip: not measured (cannot pin a thread)".into(),
            },
        ],
        partial,
    }
}

/// The cases of `s` this run takes: with `--quick` only those with a quick
/// size (the others are left out before any child starts); with `--cases`
/// only those named.
fn cases<'a>(
    s: &'static Scenario,
    cli: &'a Cli,
) -> impl Iterator<Item = &'static scenarios::Case> + 'a {
    s.cases
        .iter()
        .filter(move |c| (!cli.quick || c.n_quick > 0) && wanted(&cli.cases, c.id))
}

/// Whether `name` takes part, given the names asked for (`--peers`,
/// `--cases`; none asked: everything takes part).
fn wanted(asked: &[String], name: &str) -> bool {
    asked.is_empty() || asked.iter().any(|a| a == name)
}

/// The run's expected wall time, s: runs × each scenario's
/// [`Scenario::run_secs`].
fn estimate(selected: &[&'static Scenario], cli: &Cli, rounds: u32) -> f64 {
    selected
        .iter()
        .map(|s| {
            let peers = s
                .peers
                .iter()
                .filter(|p| wanted(&cli.peers, p.name))
                .count();
            let per_round: f64 = cases(s, cli)
                .map(|c| (s.run_secs)(if cli.quick { c.n_quick } else { c.n }, cli.quick))
                .sum();
            per_round * peers as f64 * f64::from(rounds)
        })
        .sum()
}

/// Runs every peer of one case `rounds` times, interleaved:
/// for round in 1..=R { for peer in peers { run once } }.
fn run_case(
    s: &Scenario,
    case: &'static scenarios::Case,
    cli: &Cli,
    rounds: u32,
    cpu: usize,
) -> CaseReport {
    let n = if cli.quick { case.n_quick } else { case.n };
    let peers: Vec<_> = s
        .peers
        .iter()
        .filter(|p| wanted(&cli.peers, p.name))
        .collect();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); peers.len()];
    let mut figures: Vec<Vec<(Metric, f64)>> = vec![Vec::new(); peers.len()];
    let mut skipped: Vec<Option<String>> = vec![None; peers.len()];
    let mut notes: Vec<Option<String>> = vec![None; peers.len()];
    let title = case.title.replace("{n}", &report::thousands(n));
    eprintln!("{}: {title}", s.name);
    for round in 1..=rounds {
        let mut progress = format!("  round {round}/{rounds}:");
        for (i, p) in peers.iter().enumerate() {
            if skipped[i].is_some() {
                continue;
            }
            match runner::run_child(s.name, case.id, p.name, n, cpu, cli.quick) {
                RunResult::Sample {
                    ops,
                    nanos,
                    note,
                    metrics,
                } => {
                    let rate = RunResult::per_sec(ops, nanos);
                    samples[i].push(rate);
                    figures[i].extend(metrics);
                    notes[i] = note;
                    progress += &format!(" {} {:.3}M", p.name, rate / 1e6);
                }
                RunResult::Skipped(why) => {
                    progress += &format!(" {} skipped", p.name);
                    skipped[i] = Some(why);
                }
            }
        }
        eprintln!("{progress}");
    }
    let rows = peers
        .iter()
        .enumerate()
        .map(|(i, p)| Row {
            peer: p.name,
            result: match skipped[i].take() {
                Some(why) => Err(why),
                None => stats::summarize(&samples[i]).ok_or_else(|| "no runs".to_string()),
            },
            note: notes[i].take(),
            metrics: summarize_metrics(&figures[i]),
            runs: std::mem::take(&mut samples[i]),
        })
        .collect();
    CaseReport {
        scenario: s.name,
        case: case.id,
        title,
        unit: s.unit,
        rounds,
        rows,
    }
}

/// Median, min and max of each metric over the runs that recorded it.
fn summarize_metrics(figures: &[(Metric, f64)]) -> Vec<(Metric, stats::Summary)> {
    Metric::ALL
        .into_iter()
        .filter_map(|m| {
            let v: Vec<f64> = figures
                .iter()
                .filter(|(k, _)| *k == m)
                .map(|(_, v)| *v)
                .collect();
            Some((m, stats::summarize(&v)?))
        })
        .collect()
}

/// The command as typed, as far as it can be told from inside.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exe = std::env::current_exe().unwrap_or_default();
    let via_cargo = std::env::var_os("CARGO").is_some();
    if via_cargo {
        let profile = if exe.components().any(|c| c.as_os_str() == "release") {
            " --release"
        } else {
            ""
        };
        format!(
            "cargo run{profile} -p ringloop-compare -- {}",
            args.join(" ")
        )
    } else {
        format!("{} {}", exe.display(), args.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::all_known;

    #[test]
    fn a_peer_or_case_the_selected_scenarios_lack_is_named_in_the_error() {
        let known = ["p1", "open50"];
        assert_eq!(all_known("case", &[], &known), Ok(()));
        assert_eq!(all_known("case", &["open50".into()], &known), Ok(()));
        let err = all_known("case", &["open50".into(), "open60".into()], &known).unwrap_err();
        assert!(err.starts_with("unknown case \"open60\""), "{err}");
        assert!(err.contains("\"p1\""), "{err}");
    }
}
