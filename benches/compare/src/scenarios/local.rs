//! What the scenarios that run other programs share: the suite's scratch
//! folder and the programs built beside this binary (ringloop's examples,
//! built on first use; this package's other binaries).

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use super::Skip;

/// The suite's scratch folder (`RINGLOOP_COMPARE_SCRATCH`, set by the
/// parent, which removes it at the end), under `/var/tmp`: a disk, where
/// `O_DIRECT` works.
pub fn scratch_dir() -> PathBuf {
    std::env::var_os("RINGLOOP_COMPARE_SCRATCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/ringloop-compare"))
}

/// This binary's profile folder (`target/release`).
fn profile_dir() -> Result<PathBuf, Skip> {
    let exe = std::env::current_exe().map_err(|e| Skip::new(format!("no own path: {e}")))?;
    Ok(exe
        .parent()
        .expect("the executable is in a folder")
        .to_path_buf())
}

/// Another binary of this package, built beside this one.
pub fn sibling(name: &str) -> Result<PathBuf, Skip> {
    let bin = profile_dir()?.join(name);
    if !bin.exists() {
        return Err(Skip::new(format!(
            "no {} (cargo build --release -p ringloop-compare --bins)",
            bin.display()
        )));
    }
    Ok(bin)
}

/// An example of the ringloop crate with `features`, built (once per
/// invocation of the suite) by the same cargo and profile into this
/// binary's target folder.
pub fn example(name: &str, features: &[&str]) -> Result<PathBuf, Skip> {
    let profile_dir = profile_dir()?;
    let bin = profile_dir.join("examples").join(name);
    let marker = scratch_dir().join(format!("example-{name}-built"));
    if bin.exists() && marker.exists() {
        return Ok(bin);
    }
    let release = profile_dir.file_name().is_some_and(|d| d == "release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let target_dir = profile_dir
        .parent()
        .expect("the profile is in a target folder");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", "ringloop", "--example", name])
        .args(["--features", &features.join(",")])
        .args(["--manifest-path", manifest])
        .arg("--target-dir")
        .arg(target_dir);
    if release {
        cmd.arg("--release");
    }
    run(&mut cmd, &format!("cargo build --example {name}"))?;
    if !bin.exists() {
        return Err(Skip::new(format!("no {} after the build", bin.display())));
    }
    fs::create_dir_all(scratch_dir())
        .and_then(|()| fs::write(&marker, b""))
        .map_err(|e| Skip::new(format!("cannot write {}: {e}", marker.display())))?;
    Ok(bin)
}

/// Runs `cmd` to the end (no stdin; stdout and stderr captured): its
/// output, or why it could not start or failed.
pub fn run(cmd: &mut Command, what: &str) -> Result<Output, Skip> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Skip::new(format!("cannot run {what}: {e}")))?;
    succeeded(out, what)
}

/// `out` if its process succeeded, else why not (its last line on stderr).
pub fn succeeded(out: Output, what: &str) -> Result<Output, Skip> {
    if out.status.success() {
        return Ok(out);
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().rev().find(|l| !l.trim().is_empty());
    Err(Skip::new(format!(
        "{what} exited with {}: {}",
        out.status,
        last.unwrap_or("no message")
    )))
}
