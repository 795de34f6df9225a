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
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/asan}"
# --tests: doctests are not sanitized (they link without the runtime).
cargo test --target x86_64-unknown-linux-gnu --tests "$@"
