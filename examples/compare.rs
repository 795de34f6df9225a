//! Completion vs readiness under load: the same echo server on each driver,
//! driven by the same io_uring client, with a table (and a chart) of what it
//! cost.
//!
//! ```text
//! cargo run --release --example compare -- \
//!     [--connections 32] [--size 64] [--depth 1] [--duration 2] \
//!     [--drivers uring,epoll,uring-naive] [--svg compare.svg] \
//!     [--requests N] [--pause SECS] [--no-pin]
//! ```
//!
//! * `--connections N`: TCP connections over loopback.
//! * `--size BYTES`: bytes per request and per reply.
//! * `--depth D`: requests in flight per connection (pipelining).
//! * `--duration SECS`: how long each driver is loaded…
//! * `--requests N`: …or a fixed number of requests per connection instead
//!   (for a syscall count to check against `strace`).
//! * `--drivers LIST`: which server drivers to run, in order: `uring`
//!   (one `io_uring_enter` per loop turn), `epoll`, `uring-naive`
//!   (`Builder::submit_each_op(true)`: one enter per op, no batching).
//! * `--svg FILE`: also draw requests/s and syscalls/request per driver.
//! * `--pause SECS`: print the server thread's id and wait before loading
//!   it (time to attach `strace -c -p TID`).
//! * `--no-pin`: do not pin the server to CPU 0 and the client to CPU 1.
//!
//! The server runs on one thread with the driver under test; the client on
//! another thread with its own io_uring runtime (see `support/load.rs`).
//! Every figure comes from a counter or a clock: requests/s and latency
//! from the client, syscalls from the server runtime's `Stats`.

#[path = "support/load.rs"]
mod load;

use load::{Mode, Params, Report};
use std::io;
use std::time::Duration;

struct Args {
    params: Params,
    modes: Vec<Mode>,
    svg: Option<String>,
}

const USAGE: &str = "usage: compare [--connections N] [--size BYTES] [--depth D] \
[--duration SECS | --requests N] [--drivers uring,epoll,uring-naive] [--svg FILE] \
[--pause SECS] [--no-pin]";

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    fn num<T: std::str::FromStr>(name: &str, value: Option<String>) -> Result<T, String> {
        let value = value.ok_or(format!("{name} needs a value"))?;
        value
            .parse()
            .map_err(|_| format!("{name}: {value:?} is not a valid number"))
    }
    let mut parsed = Args {
        params: Params::default(),
        modes: vec![Mode::Uring, Mode::Epoll, Mode::UringNaive],
        svg: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let p = &mut parsed.params;
        match arg.as_str() {
            "--connections" | "-c" => p.connections = num(&arg, args.next())?,
            "--size" => p.size = num(&arg, args.next())?,
            "--depth" => p.depth = num(&arg, args.next())?,
            "--duration" | "-d" => {
                let secs: f64 = num(&arg, args.next())?;
                p.duration = Duration::try_from_secs_f64(secs)
                    .map_err(|_| format!("--duration: {secs} is not a duration"))?;
            }
            "--requests" => p.requests = Some(num(&arg, args.next())?),
            "--pause" => p.pause = Duration::from_secs(num(&arg, args.next())?),
            "--no-pin" => p.pin = false,
            "--drivers" => {
                let list = args.next().ok_or("--drivers needs a value")?;
                parsed.modes = list
                    .split(',')
                    .map(|s| Mode::parse(s.trim()))
                    .collect::<Result<_, _>>()?;
            }
            "--svg" => parsed.svg = Some(args.next().ok_or("--svg needs a file name")?),
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unexpected argument {other:?}\n{USAGE}")),
        }
    }
    let p = &parsed.params;
    if p.connections == 0 || p.size == 0 || p.depth == 0 || p.requests == Some(0) {
        return Err("--connections, --size, --depth and --requests must be at least 1".into());
    }
    if parsed.modes.is_empty() {
        return Err("--drivers: name at least one driver".into());
    }
    Ok(parsed)
}

fn main() -> io::Result<()> {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let p = &args.params;
    let load = match p.requests {
        Some(n) => format!("{n} requests per connection"),
        None => format!("{:?} per driver", p.duration),
    };
    println!(
        "echo over loopback: {} connections, {} B requests, depth {}, {load}; \
         server on one thread (driver under test), client on another (io_uring){}",
        p.connections,
        p.size,
        p.depth,
        if p.pin && load::cpus() >= 2 {
            ", pinned to CPUs 0 and 1"
        } else {
            ""
        }
    );
    println!("{}", machine());
    let mut reports = Vec::new();
    for &mode in &args.modes {
        reports.push(load::run(mode, p)?);
    }
    println!();
    load::print_table(&reports);
    println!("\nserver counters per request (ringloop::Stats):");
    load::print_server_counters(&reports);
    if p.requests.is_some() || !p.pause.is_zero() {
        println!("\nserver totals, runtime built to last connection closed (ringloop::Stats):");
        load::print_server_totals(&reports);
    }
    load::print_noise(&reports);
    if let Some(path) = &args.svg {
        chart(path, &reports, p).map_err(|e| io::Error::other(format!("{path}: {e}")))?;
        println!("\nchart written to {path}");
    }
    Ok(())
}

/// "kernel …, CPU … × N" from /proc (what the figures were measured on).
fn machine() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim());
    format!("kernel {}, {model} × {} CPUs", kernel.trim(), load::cpus())
}

/// Two bar charts side by side: requests/s and server syscalls/request.
fn chart(path: &str, reports: &[Report], p: &Params) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    let canvas = SVGBackend::new(path, (960, 420)).into_drawing_area();
    canvas.fill(&WHITE)?;
    let title = format!(
        "echo: {} connections, {} B, depth {}",
        p.connections, p.size, p.depth
    );
    let root = canvas.titled(&title, ("sans-serif", 20))?;
    let panels = root.split_evenly((1, 2));
    let colors = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
    ];
    let series: [(&str, Vec<f64>); 2] = [
        (
            "requests/s (client)",
            reports.iter().map(Report::requests_per_sec).collect(),
        ),
        (
            "I/O syscalls per request (server Stats)",
            reports.iter().map(Report::syscalls_per_request).collect(),
        ),
    ];
    let centered = |pos| {
        ("sans-serif", 13)
            .into_font()
            .into_text_style(&canvas)
            .pos(Pos::new(HPos::Center, pos))
    };
    for (panel, (caption, values)) in panels.iter().zip(&series) {
        let top = values.iter().cloned().fold(0.0, f64::max).max(1e-9) * 1.15;
        let big = top > 1000.0;
        // Bar i spans [i + 0.15, i + 0.85] on an x axis of 0..n.
        let mut chart = ChartBuilder::on(panel)
            .caption(*caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..values.len() as f64, 0.0..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_max_light_lines(1)
            .y_label_formatter(&|y| {
                if big {
                    format!("{:.0}k", y / 1000.0)
                } else {
                    format!("{y:.1}")
                }
            })
            .draw()?;
        chart.draw_series(values.iter().enumerate().map(|(i, &v)| {
            let x = i as f64;
            Rectangle::new(
                [(x + 0.15, 0.0), (x + 0.85, v)],
                colors[i % colors.len()].filled(),
            )
        }))?;
        chart.draw_series(values.iter().enumerate().map(|(i, &v)| {
            let label = if big {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            };
            Text::new(label, (i as f64 + 0.5, v), centered(VPos::Bottom))
        }))?;
        // The drivers' names under the bars, on the whole canvas (the
        // chart's own area ends at the axis).
        for (i, report) in reports.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            canvas.draw(&Text::new(
                report.mode.name(),
                (x, y + 8),
                centered(VPos::Top),
            ))?;
        }
    }
    canvas.present()?;
    Ok(())
}
