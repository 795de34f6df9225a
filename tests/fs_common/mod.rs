//! Helpers for the `fs_*` tests, next to the shared ones in `tests/common`:
//!
//! * [`run`], [`run_uring`] (from `tests/common`): a fresh runtime on its
//!   own thread, under a watchdog.
//! * [`TempDir`]: a scratch directory removed when dropped; [`scratch_file`]
//!   opens a file in it for reading and writing.
//! * [`child`]: run one test's body again in a child process with other
//!   credentials or limits (dropped privileges, `RLIMIT_FSIZE`, a private
//!   mount namespace) — these are per process, so they cannot be changed
//!   for one test inside the shared test binary.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[allow(unused_imports)] // each test binary uses a different subset
pub use super::common::{run, run_uring};

/// Opens `path` for reading and writing, creating it if needed: the file
/// most tests start from.
pub async fn scratch_file(path: &Path) -> ringloop::fs::File {
    ringloop::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .open(path)
        .await
        .expect("open a scratch file")
}

/// A scratch directory, removed (with its content) when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new directory under the system's temp dir (`/tmp`).
    pub fn new(tag: &str) -> TempDir {
        TempDir::under(&std::env::temp_dir(), tag)
    }

    /// A new directory under `base`.
    pub fn under(base: &Path, tag: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("ringloop-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes `0, 1, … 250, 0, 1 …` shifted by `seed`: a pattern in which every
/// misplaced byte shows (251 is prime, so no power-of-two offset aliases).
pub fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i + seed) % 251) as u8).collect()
}

/// Running one test's body in a child process.
pub mod child {
    use super::*;

    const ROLE: &str = "RINGLOOP_FS_CHILD";
    const ARG: &str = "RINGLOOP_FS_CHILD_ARG";

    /// In the child started for test `name`: its argument. `None` in the
    /// parent (the normal test run).
    pub fn role(name: &str) -> Option<String> {
        (std::env::var(ROLE).ok()? == name).then(|| std::env::var(ARG).unwrap_or_default())
    }

    /// Runs this test binary's test `name` alone in a child process with
    /// `arg` (given back by [`role`]), after `configure` (credentials,
    /// `pre_exec` hooks); waits at most `secs` seconds.
    ///
    /// # Errors
    ///
    /// When the child cannot be started (a `pre_exec` hook failed: its
    /// error).
    pub fn spawn(
        name: &str,
        arg: &str,
        secs: u64,
        configure: impl FnOnce(&mut Command),
    ) -> std::io::Result<Output> {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut cmd = Command::new(exe);
        cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE, name)
            .env(ARG, arg)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        configure(&mut cmd);
        let mut child = cmd.spawn()?;
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if child.try_wait()?.is_some() {
                return child.wait_with_output();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output()?;
                panic!(
                    "child for `{name}` did not finish within {secs} s\n{}",
                    describe(&out)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Asserts that the child's test passed (it ran, and did not fail).
    pub fn assert_passed(name: &str, out: &Output) {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "the child running `{name}` failed\n{}",
            describe(out)
        );
    }

    pub fn describe(out: &Output) -> String {
        format!(
            "status: {}\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}
