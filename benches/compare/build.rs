//! Records the versions of the peer crates (as resolved in the workspace's
//! Cargo.lock) so that every report says exactly what was compared.

use std::path::PathBuf;

const CRATES: &[(&str, &str)] = &[
    ("ringloop", "VERSION_RINGLOOP"),
    ("monoio", "VERSION_MONOIO"),
    ("tokio-uring", "VERSION_TOKIO_URING"),
    ("compio", "VERSION_COMPIO"),
    ("glommio", "VERSION_GLOMMIO"),
    ("hyper", "VERSION_HYPER"),
    ("tokio", "VERSION_TOKIO"),
    ("io-uring", "VERSION_IO_URING"),
];

fn main() {
    // The workspace's lock file: the nearest Cargo.lock above the package
    // (walking up lexically, so a symlinked checkout still finds its own).
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let lock = dir
        .ancestors()
        .map(|d| d.join("Cargo.lock"))
        .find(|p| p.exists());
    println!("cargo:rerun-if-changed=build.rs");
    let text = match &lock {
        Some(lock) => {
            println!("cargo:rerun-if-changed={}", lock.display());
            std::fs::read_to_string(lock).unwrap_or_default()
        }
        None => String::new(),
    };
    for (name, var) in CRATES {
        let version = highest_version(&text, name).unwrap_or_else(|| "unknown".into());
        println!("cargo:rustc-env={var}={version}");
    }
}

/// The highest version of `name` in the lock file (a crate can appear more
/// than once, e.g. io-uring 0.6 via tokio-uring and 0.7 used directly; the
/// newest is the one this package depends on).
fn highest_version(lock: &str, name: &str) -> Option<String> {
    let mut best: Option<(Vec<u64>, String)> = None;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() != format!("name = \"{name}\"") {
            continue;
        }
        let Some(v) = lines
            .next()
            .and_then(|l| l.trim().strip_prefix("version = "))
        else {
            continue;
        };
        let v = v.trim_matches('"').to_string();
        let key: Vec<u64> = v
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|p| p.parse().ok())
            .collect();
        if best.as_ref().is_none_or(|(k, _)| key > *k) {
            best = Some((key, v));
        }
    }
    best.map(|(_, v)| v)
}
