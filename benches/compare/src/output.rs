//! `--write`: BENCHMARKS.md and the charts, from scratch.
//!
//! Into the repository root (or `--write-to DIR`): `BENCHMARKS.md`, and
//! `docs/bench/<scenario>.svg` for every scenario of the run. The SVGs
//! already in `docs/bench/` are removed first: the folder holds only what
//! this run produced, and BENCHMARKS.md links to them relatively.

use std::fs;
use std::path::{Path, PathBuf};

use crate::chart;
use crate::report::{self, CaseReport, Header};

/// The charts' folder, relative to the root.
pub const CHART_DIR: &str = "docs/bench";

/// Where to write, if at all.
pub fn root(write: bool, write_to: Option<&Path>) -> Option<PathBuf> {
    match write_to {
        Some(dir) => Some(dir.to_path_buf()),
        None if write => Some(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))),
        None => None,
    }
}

/// Writes the charts, then BENCHMARKS.md; returns the paths written.
pub fn write(root: &Path, header: &Header, cases: &[CaseReport]) -> Result<Vec<String>, String> {
    let dir = root.join(CHART_DIR);
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    clear_charts(&dir)?;
    let mut written = Vec::new();
    let mut charted: Vec<&str> = Vec::new();
    let mut scenarios: Vec<&str> = cases.iter().map(|c| c.scenario).collect();
    scenarios.dedup();
    for name in scenarios {
        let mine: Vec<&CaseReport> = cases.iter().filter(|c| c.scenario == name).collect();
        if mine
            .iter()
            .all(|c| c.rows.iter().all(|r| r.result.is_err()))
        {
            continue;
        }
        let path = dir.join(format!("{name}.svg"));
        chart::write(&path, &mine)?;
        written.push(path.display().to_string());
        charted.push(name);
    }
    let md = report::document(header, cases, &|name| {
        charted
            .contains(&name)
            .then(|| format!("{CHART_DIR}/{name}.svg"))
    });
    let path = root.join("BENCHMARKS.md");
    fs::write(&path, md).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    written.push(path.display().to_string());
    Ok(written)
}

fn clear_charts(dir: &Path) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "svg") {
            fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
        }
    }
    Ok(())
}
