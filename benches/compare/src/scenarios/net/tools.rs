//! The programs a network run needs, where they run, and small helpers.

use std::net::TcpListener;
use std::process::Command;

use super::{Load, Skip};

/// How to get the tools that may be missing.
const INSTALL: &str = "bash ci/install-bench-tools.sh";

pub struct Tools {
    /// The CPU the server runs on (this child's).
    pub server_cpu: usize,
    /// The CPU for the load generator: one that is not the server's.
    pub client_cpu: usize,
}

impl Tools {
    /// The tools `load` needs, or why the run is skipped.
    pub fn find(load: Load) -> Result<Tools, Skip> {
        let needed: &[(&str, &str)] = match load {
            Load::Wrk { .. } => &[("wrk", "apt-get install wrk")],
            Load::Strace => &[("strace", "apt-get install strace")],
            Load::Closed | Load::Open { .. } => &[],
        };
        for (tool, apt) in needed
            .iter()
            .chain(&[("taskset", "apt-get install util-linux")])
        {
            if !on_path(tool) {
                return Err(Skip::new(format!(
                    "{tool} not installed ({apt}, or {INSTALL})"
                )));
            }
        }
        let own = crate::machine::allowed_cpus().first().copied().unwrap_or(0);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cores = cores.max(crate::machine::describe().cores);
        let client_cpu = (0..cores)
            .find(|&c| c != own)
            .ok_or_else(|| Skip::new("one CPU only: the client needs a CPU of its own"))?;
        Ok(Tools {
            server_cpu: own,
            client_cpu,
        })
    }

    /// `taskset -c CLIENT_CPU PROGRAM`.
    pub fn on_client_cpu(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("taskset");
        cmd.arg("-c").arg(self.client_cpu.to_string()).arg(program);
        cmd
    }
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// Runs `cmd` to the end; its stdout, or why it failed.
pub fn output(cmd: &mut Command, what: &str) -> Result<String, Skip> {
    let out = crate::scenarios::local::run(cmd, what)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A loopback address nobody listens on now.
pub fn free_addr() -> Result<String, Skip> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.to_string())
        .map_err(|e| Skip::new(format!("no free port: {e}")))
}

/// The number after `key` in `text` ("throughput: 50012 msg/s").
pub fn field_after(text: &str, key: &str) -> Option<f64> {
    let rest = &text[text.find(key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}
