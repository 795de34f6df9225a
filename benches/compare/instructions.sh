#!/usr/bin/env bash
# User-space instructions per HTTP request (or echoed message), counted by
# callgrind: where the time figures of the `http` and `echo` scenarios are
# too noisy to show what a runtime adds to the kernel's work, the
# instruction count is exact.
#
#   [RATE=R] [PROTOCOL=echo] benches/compare/instructions.sh [SECONDS] [SERVER...]
#   SERVER: ringloop (examples/http.rs in its default multishot mode, or
#           examples/echo.rs --mode multishot --buf 16384 as the `echo`
#           scenario runs it) or a net-peer runtime (tokio, io-uring-raw,
#           epoll-raw, monoio, ...); default: ringloop io-uring-raw tokio
#           epoll-raw
#   PROTOCOL: http (the default) or echo (64-byte messages)
#   RATE:   an open-loop request rate (requests/s over all connections)
#           instead of the closed loop: slow enough, each loop turn serves
#           about one request, as a server below saturation does, and the
#           count includes each turn's fixed cost
#
# Each server runs under `valgrind --tool=callgrind` on CPU 0, loaded for
# SECONDS (default 5) by `echo_client` (`--http`, or 64-byte echoes; 64
# connections, one request in flight each) on CPU 1. The count covers the
# whole server process from its start (start-up alone, idle: about 0.6
# million instructions for ringloop and 1.0 million for tokio on
# 2026-11-25: under 0.3% of a 5 s closed-loop run's total, about 1% of a
# run at RATE=5000, some 25 instructions per request) and is divided by the
# requests the client completed. Under valgrind a server runs tens of times
# slower, so in the closed loop each loop turn finds more requests waiting
# than it would at full speed (RATE avoids that): read the figures as each
# program's own cost per request, compared with each other, not as what a
# server costs at any one load. Kernel work is not counted at all.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-5}
shift || true
servers=("$@")
[ ${#servers[@]} -gt 0 ] || servers=(ringloop io-uring-raw tokio epoll-raw)
for tool in valgrind callgrind_control callgrind_annotate taskset; do
    command -v "$tool" >/dev/null || { echo "needs $tool (bash ci/install-bench-tools.sh, or apt-get install valgrind util-linux)" >&2; exit 2; }
done
protocol=${PROTOCOL:-http}
case "$protocol" in
    http) client_args=(--http) ;;
    echo) client_args=(--size 64) ;;
    *) echo "PROTOCOL must be http or echo" >&2; exit 2 ;;
esac
cargo build -q --release --example http --example echo --example echo_client
cargo build -q --release -p ringloop-compare --bin net-peer
out=$(mktemp -d)
trap 'pkill -KILL -f "callgrind-out-file=$out" 2>/dev/null || true' EXIT

echo "user-space instructions per $protocol request, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs"
rate_args=()
[ -z "${RATE:-}" ] || rate_args=(--rate "$RATE")
echo "load: echo_client ${client_args[*]}, 64 connections, depth 1${RATE:+, open loop at $RATE req/s}, ${secs} s; server under callgrind on CPU 0"
printf '%-14s %12s %16s %14s\n' server requests instructions "per request"
for server in "${servers[@]}"; do
    port=$((20000 + RANDOM % 5000))
    if [ "$server" = ringloop ] && [ "$protocol" = http ]; then
        cmd=(target/release/examples/http "127.0.0.1:$port")
    elif [ "$server" = ringloop ]; then
        cmd=(target/release/examples/echo "127.0.0.1:$port" --mode multishot --buf 16384)
    else
        cmd=(target/release/net-peer "$protocol" "$server" "127.0.0.1:$port")
    fi
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$out/$server" "${cmd[@]}" \
        2>"$out/$server.err" &
    disown
    for _ in $(seq 100); do
        grep -q "listening on" "$out/$server.err" && break
        sleep 0.2
    done
    rate=$(taskset -c 1 target/release/examples/echo_client "127.0.0.1:$port" "${client_args[@]}" \
        --connections 64 --depth 1 --duration "$secs" --warmup 0 "${rate_args[@]}" 2>&1 |
        sed -n 's/^throughput: \([0-9]*\) msg\/s.*/\1/p')
    callgrind_control -d >/dev/null 2>&1
    sleep 1
    pkill -KILL -f "callgrind-out-file=$out/$server " || true
    sleep 0.5
    dump=
    for f in "$out/$server".*; do
        case "$f" in *.err | *'.*') ;; *) dump=$f && break ;; esac
    done
    if [ -z "$rate" ] || [ -z "$dump" ]; then
        echo "$server: no result (see $out/$server.err)" >&2
        continue
    fi
    total=$(callgrind_annotate "$dump" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
    requests=$((rate * secs))
    printf '%-14s %12d %16d %14d\n' "$server" "$requests" "$total" $((total / requests))
done
