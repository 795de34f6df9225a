#!/usr/bin/env bash
# The project's checks, in the order a reviewer would run them.
# Usage: bash ci/check.sh   (CI runs it through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
cargo --version
rustc --version
uname -r

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "build examples and benches"
cargo build --examples --benches

step "optional features (tokio-io, futures-io, hyper): clippy, the hyper example, its tests"
# The self dev-dependency already turns on tokio-io and futures-io for the
# suite; `hyper` is off by default (heavy), so it is checked here once.
cargo clippy --all-targets --all-features -- -D warnings
cargo build --all-features --example hyper
cargo test --all-features --test compat_hyper

step "tests (the README's test command), io_uring driver by default"
cargo test

step "tests again with the readiness driver (RINGLOOP_DRIVER=epoll)"
# Tests of io_uring mechanics pin Driver::Uring; every other test runs on
# epoll in this pass.
RINGLOOP_DRIVER=epoll cargo test

step "AddressSanitizer: the lifecycle, shutdown, leak and limit tests"
# The whole suite under ASan takes longer than CI should spend; these are
# the tests where memory ownership changes hands with the kernel.
bash ci/asan.sh --lib --test ops_lifecycle --test shutdown --test net_leaks \
    --test fs_lifecycle --test ring_limits --test reliability --test compat

step "the comparison suite's own tests (report, the peers' shared protocol code, the raw loops)"
# Not a default workspace member (it builds every peer runtime); its unit
# tests need no load generator and no fio.
cargo clippy -p ringloop-compare --all-targets -- -D warnings
cargo test -p ringloop-compare

step "the tour runs"
cargo run --release --example tour >/tmp/ringloop-tour.txt
tail -n 4 /tmp/ringloop-tour.txt
