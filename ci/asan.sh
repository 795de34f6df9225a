#!/usr/bin/env bash
# AddressSanitizer run of the test suite on the stable toolchain.
# ASan cannot see the kernel's writes into user memory; the drop-order tests
# (a buffer that records its drop relative to its CQE) cover that side.
# Usage: bash ci/asan.sh [cargo test args…]
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Zsanitizer=address"
export RUSTDOCFLAGS="-Zsanitizer=address"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/ci/lsan.supp:print_suppressions=0"
# Tests whose bounds mean nothing under ASan (RSS, with freed memory held in
# the quarantine) read this and skip just that bound.
export RINGLOOP_SANITIZER=address
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/asan}"
# Default: every test target (doctests are not sanitized: they link
# without the runtime). Arguments replace that selection, e.g.
#   bash ci/asan.sh --lib --test ops_lifecycle
if [ "$#" -eq 0 ]; then set -- --tests; fi
cargo test --target x86_64-unknown-linux-gnu "$@"
