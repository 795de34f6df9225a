//! The load generators: `wrk`, ringloop's `examples/echo_client.rs` (closed
//! and open loop), and the separate `strace -f -c` pass.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::process::{self, ServerProcess};
use super::tools::{field_after, output, Tools};
use super::{Figures, Message, Sample, Skip};
use crate::scenarios::local::{example, scratch_dir};

/// Who loads one server.
pub struct Client<'a> {
    pub tools: &'a Tools,
    pub addr: String,
    pub connections: usize,
    pub message: Message,
}

impl Client<'_> {
    /// `echo_client ADDR` for this server, connections and message, pinned
    /// to the client's CPU.
    fn echo_client_cmd(&self) -> Result<Command, Skip> {
        let mut cmd = self.tools.on_client_cpu(example("echo_client", &[])?);
        cmd.arg(&self.addr)
            .args(["--connections", &self.connections.to_string()]);
        match self.message {
            Message::Http => cmd.arg("--http"),
            Message::Echo(size) => cmd.args(["--size", &size.to_string()]),
        };
        Ok(cmd)
    }

    /// An untimed closed loop of `echo_client` for `time`.
    pub fn warm_up(&self, time: Duration) -> Result<(), Skip> {
        let mut cmd = self.echo_client_cmd()?;
        cmd.args(["--warmup", "0", "--duration", &secs(time)]);
        output(&mut cmd, "echo_client (warm-up)").map(drop)
    }

    /// `echo_client` for `measured` after a 0.1 s warm-up of its own:
    /// closed loop, or open at `rate` requests / s. The server is read a
    /// little inside the client's measured window.
    pub fn echo_loop(
        &self,
        srv: &mut ServerProcess,
        rate: Option<f64>,
        measured: Duration,
    ) -> Result<(Sample, Figures), Skip> {
        const WARMUP: Duration = Duration::from_millis(100);
        let mut cmd = self.echo_client_cmd()?;
        cmd.args(["--warmup", &secs(WARMUP), "--duration", &secs(measured)]);
        if let Some(rate) = rate {
            cmd.args(["--rate", &format!("{rate:.0}")]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Skip::new(format!("cannot run echo_client: {e}")))?;
        let client_pid = child.id();
        // The client connects (a few ms), then warms up: read the server
        // inside its measured window, a little after it opens and before
        // it closes.
        let margin = (measured / 10).min(Duration::from_millis(100));
        std::thread::sleep(WARMUP + margin);
        let before = srv.measure_point(self.tools)?;
        let client_before = process::cpu_time(client_pid).unwrap_or_default().total();
        std::thread::sleep(measured - 2 * margin);
        let client_cpu = process::cpu_time(client_pid)
            .unwrap_or_default()
            .total()
            .saturating_sub(client_before);
        let after = srv.measure_point(self.tools)?;
        let out = child
            .wait_with_output()
            .map_err(|e| Skip::new(format!("echo_client: {e}")))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(Skip::new(format!(
                "echo_client exited with {}: {}",
                out.status,
                err.lines().last().unwrap_or("no message")
            )));
        }
        let achieved = field_after(&stdout, "throughput:")
            .ok_or_else(|| Skip::new(format!("no throughput in echo_client's output: {stdout}")))?;
        let lat = |name: &str| field_after(&stdout, name).unwrap_or(f64::NAN);
        let split = after.cpu.since(before.cpu);
        let cpu = split.total();
        let wall = (after.wall - before.wall).as_secs_f64();
        let requests = achieved * wall;
        let mut figures = Figures {
            rate: achieved,
            target: rate.unwrap_or(f64::NAN),
            cpu_us: cpu.as_secs_f64() * 1e6 / requests,
            user_us: split.user.as_secs_f64() * 1e6 / requests,
            busy: process::core_busy(&before, &after, 0),
            share: 100.0 * cpu.as_secs_f64() / wall,
            foreign: process::foreign(&before, &after, cpu, client_cpu),
            sleeps: after.sleeps.saturating_sub(before.sleeps) as f64 / requests,
            p50: lat(" p50 "),
            p99: lat(" p99 "),
            ..Figures::empty()
        };
        process::ringloop_counters(&mut figures, &before, &after);
        let sample = match rate {
            // Closed loop: the client's rate.
            None => Sample {
                ops: (achieved * measured.as_secs_f64()).round() as u64,
                elapsed: measured,
                note: None,
            },
            // Open loop: requests per second of server CPU.
            Some(_) => Sample {
                ops: requests.round() as u64,
                elapsed: cpu.max(Duration::from_nanos(1)),
                note: None,
            },
        };
        Ok((sample, figures))
    }

    /// `wrk -t1` for `measured` (rounded up to whole seconds: wrk's unit),
    /// `depth` requests per write.
    pub fn wrk(
        &self,
        srv: &mut ServerProcess,
        depth: usize,
        measured: Duration,
    ) -> Result<(Sample, Figures), Skip> {
        let mut cmd = self.tools.on_client_cpu("wrk");
        cmd.arg("-t1")
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", measured.as_secs_f64().ceil().max(1.0)))
            .arg("--latency");
        if depth > 1 {
            cmd.arg("-s").arg(pipeline_script(depth)?);
        }
        cmd.arg(format!("http://{}/", self.addr));
        let before = srv.measure_point(self.tools)?;
        let client_before = process::children_cpu();
        let out = WrkOutput::parse(&output(&mut cmd, "taskset … wrk")?)?;
        let client_cpu = process::children_cpu().saturating_sub(client_before);
        let after = srv.measure_point(self.tools)?;
        // A wrong answer fails the peer; a few socket errors (a connect
        // timing out under 1,000 connections) only show in the figures.
        if out.non_2xx > 0 || out.errors * 100 > out.requests {
            return Err(Skip::new(format!(
                "wrk saw {} socket errors and {} non-2xx responses",
                out.errors, out.non_2xx
            )));
        }
        let split = after.cpu.since(before.cpu);
        let cpu = split.total();
        let wall = (after.wall - before.wall).as_secs_f64();
        let mut figures = Figures {
            rate: out.requests as f64 / out.secs,
            cpu_us: cpu.as_secs_f64() * 1e6 / out.requests as f64,
            user_us: split.user.as_secs_f64() * 1e6 / out.requests as f64,
            busy: process::core_busy(&before, &after, 0),
            share: 100.0 * cpu.as_secs_f64() / wall,
            foreign: process::foreign(&before, &after, cpu, client_cpu),
            sleeps: after.sleeps.saturating_sub(before.sleeps) as f64 / out.requests as f64,
            p50: out.p50,
            p99: out.p99,
            ..Figures::empty()
        };
        process::ringloop_counters(&mut figures, &before, &after);
        let sample = Sample {
            ops: out.requests,
            elapsed: Duration::from_secs_f64(out.secs),
            note: None,
        };
        Ok((sample, figures))
    }

    /// The separate strace pass: `strace -f -c -p SERVER` attached around
    /// a closed loop of `echo_client` for `time` (its connects and closes
    /// included). The figure is requests per syscall.
    pub fn strace(&self, srv: &ServerProcess, time: Duration) -> Result<(Sample, Figures), Skip> {
        let file = scratch_dir().join(format!("strace.{}", srv.pid()));
        let mut strace = Command::new("strace")
            .args(["-f", "-c", "-o"])
            .arg(&file)
            .args(["-p", &srv.pid().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Skip::new(format!("cannot run strace: {e}")))?;
        // strace says "Process N attached" once per thread: go on after
        // the first, with a moment for the others.
        let err = strace.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Read to the end (a closed pipe would kill strace).
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("attached") => break,
                Ok(_) => continue,
                Err(_) => {
                    let _ = strace.kill();
                    let _ = strace.wait();
                    return Err(Skip::new(
                        "strace did not attach within 5 s (ptrace not allowed here?)",
                    ));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut cmd = self.echo_client_cmd()?;
        cmd.args(["--warmup", "0", "--duration", &secs(time)]);
        let client = output(&mut cmd, "echo_client (under strace)");
        // SAFETY: plain syscall; the pid is our live child's.
        unsafe { libc::kill(strace.id() as libc::pid_t, libc::SIGINT) };
        let _ = strace.wait();
        let stdout = client?;
        let summary = fs::read_to_string(&file)
            .map_err(|e| Skip::new(format!("no strace summary ({}): {e}", file.display())))?;
        let _ = fs::remove_file(&file);
        let rate = field_after(&stdout, "throughput:")
            .ok_or_else(|| Skip::new(format!("no throughput in echo_client's output: {stdout}")))?;
        let requests = (rate * time.as_secs_f64()).max(1.0);
        let calls = StraceCounts::parse(&summary);
        if calls.total == 0 {
            return Err(Skip::new("strace counted no syscalls"));
        }
        let per = |n: u64| n as f64 / requests;
        let figures = Figures {
            rate,
            syscalls: per(calls.total),
            enters: per(calls.enters),
            epoll_waits: per(calls.epoll_waits),
            rw: per(calls.rw),
            ..Figures::empty()
        };
        // requests / syscall, shown as a rate: `ops` per `elapsed` µs.
        let sample = Sample {
            ops: requests.round() as u64,
            elapsed: Duration::from_micros(calls.total),
            note: None,
        };
        Ok((sample, figures))
    }
}

/// Seconds as echo_client takes them.
fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// What `strace -c` counted, by kind.
#[derive(Debug, Default, PartialEq)]
struct StraceCounts {
    total: u64,
    enters: u64,
    epoll_waits: u64,
    /// read, readv, recvfrom, recvmsg, write, writev, sendto, sendmsg.
    rw: u64,
}

impl StraceCounts {
    /// The table of `strace -c`: `% time  seconds  usecs/call  calls
    /// [errors]  syscall` rows between dashed lines, then `total`.
    fn parse(summary: &str) -> StraceCounts {
        let mut c = StraceCounts::default();
        for line in summary.lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(&name), Some(calls)) =
                (cols.last(), cols.get(3).and_then(|v| v.parse::<u64>().ok()))
            else {
                continue;
            };
            if cols.len() < 5 || name == "total" || cols[0].parse::<f64>().is_err() {
                continue;
            }
            c.total += calls;
            match name {
                "io_uring_enter" => c.enters += calls,
                "epoll_wait" | "epoll_pwait" | "epoll_pwait2" => c.epoll_waits += calls,
                "read" | "readv" | "recvfrom" | "recvmsg" | "write" | "writev" | "sendto"
                | "sendmsg" => c.rw += calls,
                _ => {}
            }
        }
        c
    }
}

/// A wrk script that sends `depth` requests per write (wrk's pipeline
/// example), in the scratch folder.
fn pipeline_script(depth: usize) -> Result<PathBuf, Skip> {
    let dir = scratch_dir();
    let path = dir.join(format!("wrk-pipeline-{depth}.lua"));
    let script = format!(
        "-- {depth} pipelined requests per write (written by ringloop-compare)\n\
         init = function(args)\n\
         \x20  local r = {{}}\n\
         \x20  for i = 1, {depth} do r[i] = wrk.format(nil, \"/\") end\n\
         \x20  req = table.concat(r)\n\
         end\n\
         request = function()\n\
         \x20  return req\n\
         end\n"
    );
    fs::create_dir_all(&dir)
        .and_then(|()| fs::write(&path, script))
        .map_err(|e| Skip::new(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// What wrk printed.
#[derive(Debug, PartialEq)]
struct WrkOutput {
    requests: u64,
    secs: f64,
    /// Latency percentiles, µs.
    p50: f64,
    p99: f64,
    errors: u64,
    non_2xx: u64,
}

impl WrkOutput {
    fn parse(out: &str) -> Result<WrkOutput, Skip> {
        let bad = || {
            Skip::new(format!(
                "cannot read wrk's output: {}",
                out.replace('\n', " / ")
            ))
        };
        let mut requests = None;
        let (mut p50, mut p99) = (f64::NAN, f64::NAN);
        let (mut errors, mut non_2xx) = (0, 0);
        for line in out.lines().map(str::trim) {
            // "478000 requests in 5.00s, 40.12MB read"
            if let Some((n, rest)) = line.split_once(" requests in ") {
                let t = rest.split(',').next().unwrap_or("");
                requests = Some((n.trim().parse::<u64>().ok(), seconds(t)));
            } else if let Some(v) = line.strip_prefix("50%") {
                p50 = micros(v.trim()).unwrap_or(f64::NAN);
            } else if let Some(v) = line.strip_prefix("99%") {
                p99 = micros(v.trim()).unwrap_or(f64::NAN);
            } else if let Some(v) = line.strip_prefix("Socket errors:") {
                // "connect 0, read 0, write 0, timeout 0"
                errors = v
                    .split(',')
                    .filter_map(|kv| kv.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .sum();
            } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
                non_2xx = v.trim().parse().unwrap_or(u64::MAX);
            }
        }
        match requests {
            Some((Some(requests), Some(secs))) if requests > 0 && secs > 0.0 => Ok(WrkOutput {
                requests,
                secs,
                p50,
                p99,
                errors,
                non_2xx,
            }),
            _ => Err(bad()),
        }
    }
}

/// wrk's durations: "5.00s", "1.00m", "830.12ms", "95.00us".
fn seconds(t: &str) -> Option<f64> {
    micros(t).map(|us| us / 1e6)
}

fn micros(t: &str) -> Option<f64> {
    let t = t.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = t.split_at(split);
    let x: f64 = num.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(x * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_read() {
        let out = "Running 5s test @ http://127.0.0.1:8080/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   661.08us  120.50us   5.11ms   90.00%
    Req/Sec    96.71k     2.02k  100.12k    78.00%
  Latency Distribution
     50%  645.00us
     75%  700.00us
     90%  780.00us
     99%    1.02ms
  481234 requests in 5.00s, 40.85MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  96246.80
Transfer/sec:      8.17MB
";
        let w = WrkOutput::parse(out).unwrap();
        assert_eq!(w.requests, 481_234);
        assert!((w.secs - 5.0).abs() < 1e-9);
        assert!((w.p50 - 645.0).abs() < 1e-9 && (w.p99 - 1020.0).abs() < 1e-9);
        assert_eq!((w.errors, w.non_2xx), (3, 0));
        assert!(WrkOutput::parse("nothing").is_err());
        assert_eq!(micros("1.5ms"), Some(1500.0));
        assert_eq!(seconds("1.00m"), Some(60.0));
    }

    #[test]
    fn echo_client_output_is_read() {
        let out = "throughput: 50012 msg/s, 3.0 MiB/s each way\n\
                   latency (us): p50 41.2  p90 60.0  p99 95.5  p99.9 120.0  max 300.0\n";
        assert_eq!(field_after(out, "throughput:"), Some(50012.0));
        assert_eq!(field_after(out, " p99 "), Some(95.5));
    }

    #[test]
    fn strace_summary_is_read() {
        let out = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 70.00    0.070000           7     10000           io_uring_enter
 10.00    0.010000           5      2000           epoll_wait
 10.00    0.010000           5      2000       100 recvfrom
  5.00    0.005000           5      1000           sendto
  5.00    0.005000           5       100           futex
------ ----------- ----------- --------- --------- ----------------
100.00    0.100000           6     15100       100 total
";
        assert_eq!(
            StraceCounts::parse(out),
            StraceCounts {
                total: 15100,
                enters: 10000,
                epoll_waits: 2000,
                rw: 3000
            }
        );
    }
}
