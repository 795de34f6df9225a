//! The server process and what is read of it and of the two CPUs around a
//! measured load (`/proc`, and ringloop's counters where it prints them).

use std::fs;

use crate::metric::CpuTime;
use std::io::{self, BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::tools::Tools;
use super::{Figures, Skip};

/// ringloop's counters, as `examples/http.rs --signal-stats` prints them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counters {
    served: u64,
    /// I/O syscalls: `io_uring_enter`, or on epoll `epoll_wait`,
    /// `epoll_ctl` and the ops' own `recv`/`send`.
    syscalls: u64,
    enters: u64,
    cqes: u64,
}

impl Counters {
    /// `stats thread=0 served=N enters=E waits=W cqes=C ...`
    pub fn parse(line: &str) -> Option<Counters> {
        let rest = line.strip_prefix("stats ")?;
        let mut c = Counters::default();
        for kv in rest.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            let v = v.parse().ok();
            match k {
                "served" => c.served = v?,
                "syscalls" => c.syscalls = v?,
                "enters" => c.enters = v?,
                "cqes" => c.cqes = v?,
                _ => {}
            }
        }
        Some(c)
    }
}

/// One reading around the measured part.
pub struct Point {
    pub wall: Instant,
    /// utime and stime of the whole server process.
    pub cpu: CpuTime,
    /// Voluntary context switches of its main thread.
    pub sleeps: u64,
    /// Idle (+ iowait) ticks of the server's and the client's CPUs.
    idle: [Option<u64>; 2],
    stats: Option<Counters>,
}

pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: String,
    /// ringloop: the lines the server prints on stdout.
    lines: Option<mpsc::Receiver<String>>,
}

impl ServerProcess {
    /// Starts `cmd` and waits until `addr` accepts connections.
    pub fn start(cmd: &mut Command, addr: String, counters: bool) -> Result<ServerProcess, Skip> {
        cmd.stdin(Stdio::null())
            .stdout(if counters {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Skip::new(format!("cannot start the server: {e}")))?;
        let lines = child.stdout.take().map(|out| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        });
        let mut err = child.stderr.take().expect("piped");
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let err = err.join().unwrap_or_default();
                return Err(Skip::new(format!(
                    "the server exited with {status}: {}",
                    err.lines().last().unwrap_or("no message")
                )));
            }
            if TcpStream::connect(&addr).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Skip::new("the server did not listen within 10 s"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(ServerProcess { child, addr, lines })
    }

    /// The wall clock, the server's CPU time and (ringloop) its counters.
    pub fn measure_point(&mut self, tools: &Tools) -> Result<Point, Skip> {
        let stats = match &self.lines {
            Some(lines) => Some(self.snapshot(lines)?),
            None => None,
        };
        let cpu = cpu_time(self.child.id())
            .map_err(|e| Skip::new(format!("cannot read the server's /proc stat: {e}")))?;
        Ok(Point {
            wall: Instant::now(),
            cpu,
            sleeps: voluntary_switches(self.child.id()).unwrap_or(0),
            idle: [idle_ticks(tools.server_cpu), idle_ticks(tools.client_cpu)],
            stats,
        })
    }

    /// SIGUSR1, then the `stats` line it makes the server print.
    fn snapshot(&self, lines: &mpsc::Receiver<String>) -> Result<Counters, Skip> {
        while lines.try_recv().is_ok() {}
        // SAFETY: plain syscall; the pid is our live child's.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGUSR1) };
        let deadline = Instant::now() + Duration::from_secs(2);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(c) = Counters::parse(&line) {
                        return Ok(c);
                    }
                }
                Err(_) => break,
            }
        }
        Err(Skip::new("the server printed no counters after SIGUSR1"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `voluntary_ctxt_switches` of process `pid`'s main thread.
fn voluntary_switches(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
        .trim()
        .parse()
        .ok()
}

/// CPU time of process `pid` (all its threads, living or exited). The
/// total comes from the process's CPU-time clock (`clock_getcpuclockid`),
/// in nanoseconds; `/proc/PID/stat` counts in ticks of 10 ms, which at the
/// open loop's 0.6–1 s of server CPU per run would be a 1–2% step. Only
/// the split into user and system time is taken from `/proc/PID/stat`
/// (utime in ticks; system time is the rest).
pub fn cpu_time(pid: u32) -> io::Result<CpuTime> {
    let total = process_clock(pid)?;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let user = Duration::from_nanos(utime_ticks(&stat)? * 1_000_000_000 / clock_ticks());
    let user = user.min(total);
    Ok(CpuTime {
        user,
        system: total - user,
    })
}

/// The CPU-time clock of process `pid`: user plus system time of every
/// thread it has had, in nanoseconds.
fn process_clock(pid: u32) -> io::Result<Duration> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `clock` is a live clockid_t the call writes.
    let rc = unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live timespec the call writes.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// utime (field 14) of a `/proc/PID/stat` line, in ticks.
fn utime_ticks(stat: &str) -> io::Result<u64> {
    // The command name may hold spaces: the fields start after its ')'.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other("no ')' in /proc stat"))?;
    // After ')': state is field 3, utime field 14.
    after
        .split_whitespace()
        .nth(14 - 3)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| io::Error::other("short /proc stat"))
}

/// Idle + iowait ticks of CPU `cpu` from /proc/stat. (A task sleeping in
/// `io_uring_enter` may count as iowait: idle all the same.)
fn idle_ticks(cpu: usize) -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let name = format!("cpu{cpu}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))?;
    // user nice system idle iowait ...
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(5)
        .filter_map(|x| x.parse().ok())
        .collect();
    (v.len() == 5).then(|| v[3] + v[4])
}

/// USER_HZ, the unit of /proc's tick counts.
fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as u64
}

/// CPU time of the children this process has waited for (wrk).
pub fn children_cpu() -> Duration {
    // SAFETY: a zeroed rusage is valid; getrusage fills it.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// How busy CPU `which` (0: the server's, 1: the client's) was between two
/// points, % of wall time (NaN if unknown).
pub fn core_busy(before: &Point, after: &Point, which: usize) -> f64 {
    let wall = (after.wall - before.wall).as_secs_f64();
    match (before.idle[which], after.idle[which]) {
        (Some(a), Some(b)) if wall > 0.0 => {
            let idle = b.saturating_sub(a) as f64 / clock_ticks() as f64;
            (100.0 * (1.0 - idle / wall)).clamp(0.0, 100.0)
        }
        _ => f64::NAN,
    }
}

/// CPU time others took on the server's and the client's CPUs, % of wall
/// time, the larger of the two: busy time not spent by the server (resp.
/// the client) process.
pub fn foreign(before: &Point, after: &Point, server: Duration, client: Duration) -> f64 {
    let wall = (after.wall - before.wall).as_secs_f64();
    let server = core_busy(before, after, 0) - 100.0 * server.as_secs_f64() / wall;
    let client = core_busy(before, after, 1) - 100.0 * client.as_secs_f64() / wall;
    server.max(client).max(0.0)
}

/// Enters per request and CQEs per enter from two ringloop snapshots.
pub fn ringloop_counters(f: &mut Figures, before: &Point, after: &Point) {
    if let (Some(a), Some(b)) = (&before.stats, &after.stats) {
        let served = b.served.saturating_sub(a.served).max(1) as f64;
        let enters = b.enters.saturating_sub(a.enters);
        f.syscalls = b.syscalls.saturating_sub(a.syscalls) as f64 / served;
        if enters > 0 {
            f.enters = enters as f64 / served;
            f.cqes = b.cqes.saturating_sub(a.cqes) as f64 / enters as f64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read() {
        let c = Counters::parse(
            "stats thread=0 served=10 syscalls=4 enters=3 waits=1 cqes=20 ops=5 polled=9 parks=1",
        );
        assert_eq!(
            c,
            Some(Counters {
                served: 10,
                syscalls: 4,
                enters: 3,
                cqes: 20
            })
        );
        assert_eq!(Counters::parse("http[0]: listening"), None);
    }

    #[test]
    fn utime_is_read_after_a_command_name_with_spaces() {
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0";
        assert_eq!(utime_ticks(stat).unwrap(), 7);
        assert!(utime_ticks("42 (x) S 1").is_err());
    }

    #[test]
    fn a_child_busy_for_a_while_shows_that_much_cpu_to_the_nanosecond_clock() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let pid = child.id();
        let first = cpu_time(pid).unwrap();
        let started = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(150));
        let second = cpu_time(pid).unwrap();
        let wall = started.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        let spent = second.since(first).total();
        // A busy loop on a 2-CPU machine gets most of 150 ms; the point is
        // that the clock moves between two readings and by no more than the
        // wall time between them allows (one thread; 5 ms for the readings).
        assert!(spent > Duration::from_millis(20), "{spent:?}");
        assert!(
            spent <= wall + Duration::from_millis(5),
            "{spent:?} in {wall:?}"
        );
        assert!(second.user <= second.total());
    }
}
