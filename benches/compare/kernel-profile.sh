#!/usr/bin/env bash
# Where a server's CPU goes per HTTP request, kernel included, sampled by
# `perf record -e cpu-clock`: the companion of instructions.sh, which counts
# user-space instructions exactly but sees none of the kernel's work.
#
#   [RATE=R] [SECS=S] benches/compare/kernel-profile.sh [SERVER...]
#   SERVER: ringloop (examples/http.rs in its default multishot mode) or a
#           net-peer runtime (tokio, io-uring-raw, epoll-raw, monoio, ...);
#           default: ringloop tokio io-uring-raw epoll-raw
#   RATE:   the open-loop request rate, whole requests/s over all connections
#           (default 85000: about half of tokio's closed-loop peak on the
#           2-core development VM; pick a lower one on a slower machine,
#           every server must keep up with it for the rows to compare)
#   SECS:   the sampled window in seconds (default 3)
#
# Each server runs alone on CPU 0, loaded from CPU 1 by `echo_client --http`
# (64 connections, one request in flight each) at the same fixed RATE for
# SECS + 3 s. After 1.5 s, `perf record -e cpu-clock -c 100000 -p PID`
# samples the server's threads for SECS: one sample per 100 us of CPU time
# the server used, in user space or in the kernel on its behalf, no call
# graphs. Samples x 100 us is the server's CPU time in the window; the
# requests in the window are the client's throughput x SECS; the table
# divides one by the other, in total and per category of the sampled
# symbol. "busy" is that CPU time over the window (near 100%, or a
# throughput under RATE, means the server did not keep up and its row does
# not compare with the others). Under each row: the five kernel symbols
# with the most samples, in us per request.
#
# What the figures mean and don't mean:
# - A sample is charged to the one function the CPU was in, not to its
#   callers: `network` is the time spent in the TCP/IP functions
#   themselves, not everything a send() led to. The categories are the
#   pattern table below, first match wins; what no pattern takes is
#   `other kernel`.
# - cpu-clock is a software timer. Inside a VM, where there is no PMU
#   interrupt that can fire with interrupts disabled, a sample due while
#   they were disabled is taken at the point where they are enabled again
#   (finish_task_switch, _raw_spin_unlock_irqrestore, __local_bh_enable_ip,
#   ...): `sched+irq+time` includes that time spent elsewhere.
# - Softirq network work that runs on CPU 0 while the server runs is
#   charged to the server, whoever it is for: on loopback the client's
#   receive of a response typically runs inside the server's send. Work
#   done while CPU 0 is idle (an interrupt waking it) is not charged to
#   anyone. How much falls on which side depends on timing, so a server's
#   figure moves from run to run (by 5 to 27% over the three runs in
#   results-kernel.md): run it several times, and compare servers within
#   one invocation (they run one after the other, same rate, same machine).
# - perf's sampling interrupt (10,000 a CPU-second) adds its own cost to
#   every server alike.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Kernel symbol categories: an awk extended regex matched against each
# sampled kernel symbol (its .isra/.part/.constprop suffix removed); the
# first row that matches wins, so a category may have an early row for
# the exceptions to a later one. User-space samples (the program and its
# libraries, whatever the symbol) are `user`; unmatched kernel ones are
# `other kernel` (generic ones mostly: RCU, spin locks, lists, bitmaps).
read -r -d '' categories <<'EOF' || true
io_uring        ^_*io_|^tctx_|io_uring
network         ^_*napi_
syscall+fd+poll ^_*(entry_|do_syscall|syscall_|x64_sys|do_sys|se_sys|sys_|ksys_|exit_to_user|irqentry_exit_to_user|fget|fdget|fput|fd_install|ep_|epoll|vfs_|rw_verify|fsnotify|security_file|import_|put_user|get_user|rseq)|poll
network         ^_*(tcp|skb|sk_|sock|ip_|ipv4|ipv6|inet|net|dev_|loopback|bbr|eth_|lock_sock|release_sock|validate_xmit|process_backlog|enqueue_to_backlog|raw_local_deliver|raw_v4|sch_|qdisc|nf_|dst_|kmem|kmalloc|kfree|slab|allocate_slab|page_frag|alloc_skb|copy_skb|xfrm|bpf_skops|csum|security_sock|security_sk|mem_cgroup_.*skmem|check_heap_object|check_object_size|virt_addr_valid|is_vmalloc_addr)|copy.*iter|datagram|rep_movs|copy_user
sched+irq+time  ^_*(schedule|finish_task_switch|context_switch|enqueue|dequeue|update_curr|update_load|update_cfs|update_rq|pick_next|pick_task|put_prev|set_next|try_to_wake_up|ttwu|wake|hrtimer|tick|read_tsc|ktime|timekeeping|mod_timer|timer|run_timer|local_bh|do_softirq|handle_softirqs|sysvec|apic|psi_|account_|cpuacct|sched)|switch|clock|irq|wake|apic|hrtimer
EOF

for tool in perf taskset; do
    command -v "$tool" >/dev/null || {
        echo "needs $tool (bash ci/install-bench-tools.sh; or Debian: apt-get install linux-perf util-linux; Ubuntu: apt-get install linux-tools-\$(uname -r) util-linux)" >&2
        exit 2
    }
done
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 3)
if [ "$(id -u)" -ne 0 ] && [ "$paranoid" -gt 1 ]; then
    echo "perf may not sample the kernel here (kernel.perf_event_paranoid=$paranoid): run as root, or sudo sysctl kernel.perf_event_paranoid=1 (and kernel.kptr_restrict=0 for kernel symbol names)" >&2
    exit 2
fi
rate=${RATE:-85000}
secs=${SECS:-3}
servers=("$@")
[ ${#servers[@]} -gt 0 ] || servers=(ringloop tokio io-uring-raw epoll-raw)
period=100000 # ns of CPU time per sample (cpu-clock counts in ns)
client_secs=$(awk -v s="$secs" 'BEGIN { print s + 3 }')

cargo build -q --release --example http --example echo_client
cargo build -q --release -p ringloop-compare --bin net-peer
out=$(mktemp -d)
server_pid='' client_pid='' perf_pid='' keep=0
cleanup() {
    for pid in $perf_pid $client_pid $server_pid; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ "$keep" = 0 ]; then rm -rf "$out"; else echo "logs kept in $out" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! perf record -e cpu-clock -o "$out/probe.data" -- true >"$out/probe.log" 2>&1; then
    echo "perf record is not permitted or not working here:" >&2
    cat "$out/probe.log" >&2
    echo "(run as root, or sudo sysctl kernel.perf_event_paranoid=1)" >&2
    exit 2
fi

echo "server CPU per HTTP request by where it went (perf cpu-clock, 100 us/sample), $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "load: echo_client --http, 64 connections, depth 1, open loop at $rate req/s; server on CPU 0, client and perf on CPU 1; ${secs} s sampled from 1.5 s in"
echo "columns from \"user\" on: us of server CPU per request in each category"
printf '%-14s %9s %6s %9s %8s %9s %16s %8s %15s %13s\n' \
    server requests busy "CPU us/req" user io_uring syscall+fd+poll network sched+irq+time "other kernel"
for server in "${servers[@]}"; do
    port=$((20000 + RANDOM % 5000))
    if [ "$server" = ringloop ]; then
        cmd=(target/release/examples/http "127.0.0.1:$port")
    else
        cmd=(target/release/net-peer http "$server" "127.0.0.1:$port")
    fi
    taskset -c 0 "${cmd[@]}" 2>"$out/$server.err" &
    server_pid=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$out/$server.err" && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.2
    done
    if ! grep -q "listening on" "$out/$server.err"; then
        echo "$server: did not start (see $out/$server.err)" >&2
        keep=1
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=''
        continue
    fi
    taskset -c 1 target/release/examples/echo_client "127.0.0.1:$port" --http \
        --connections 64 --depth 1 --duration "$client_secs" --warmup 0 --rate "$rate" \
        >"$out/$server.client" 2>&1 &
    client_pid=$!
    sleep 1.5
    taskset -c 1 perf record -e cpu-clock -c "$period" -p "$server_pid" -o "$out/$server.data" \
        -- sleep "$secs" >"$out/$server.perf" 2>&1 &
    perf_pid=$!
    perf_ok=1
    wait "$perf_pid" || perf_ok=0
    perf_pid=''
    wait "$client_pid" || true
    client_pid=''
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=''
    throughput=$(sed -n 's/^throughput: \([0-9]*\) msg\/s.*/\1/p' "$out/$server.client")
    if [ -z "$throughput" ] || [ "$perf_ok" = 0 ] || [ ! -s "$out/$server.data" ]; then
        echo "$server: no result (see $out/$server.client, $out/$server.perf)" >&2
        keep=1
        continue
    fi
    perf report -i "$out/$server.data" --no-children --sort dso,sym -n --stdio -g none -t '|' \
        >"$out/$server.report" 2>/dev/null
    awk -F'|' -v server="$server" -v throughput="$throughput" -v secs="$secs" \
        -v period="$period" -v cats="$categories" '
        BEGIN {
            n = split(cats, rows, "\n")
            ncat = 0
            for (i = 1; i <= n; i++) {
                if (split(rows[i], f, " ") < 2) continue
                ncat++
                name[ncat] = f[1]
                re[ncat] = f[2]
            }
        }
        /^#/ || NF < 4 { next }
        {
            samples = $2 + 0
            dso = $3
            sym = $4
            gsub(/^ +| +$/, "", dso)
            sub(/^ +/, "", sym)
            sub(/ +$/, "", sym)
            total += samples
            if (sym !~ /^\[k\] / && dso !~ /^\[kernel/) { by["user"] += samples; next }
            sub(/^\[k\] /, "", sym)
            base = sym
            sub(/\..*$/, "", base)
            cat = "other kernel"
            for (i = 1; i <= ncat; i++) if (base ~ re[i]) { cat = name[i]; break }
            by[cat] += samples
            ksym[sym] += samples
        }
        END {
            requests = throughput * secs
            us = period / 1000 / requests # us of CPU per request per sample
            printf "%-14s %9d %5.0f%% %9.2f %8.2f %9.2f %16.2f %8.2f %15.2f %13.2f\n",
                server, requests, 100 * total * period / 1e9 / secs, total * us,
                by["user"] * us, by["io_uring"] * us, by["syscall+fd+poll"] * us,
                by["network"] * us, by["sched+irq+time"] * us, by["other kernel"] * us
            for (t = 1; t <= 5; t++) {
                best = ""
                for (s in ksym) if (best == "" || ksym[s] > ksym[best]) best = s
                if (best == "") break
                b = best
                sub(/\..*$/, "", b)
                cat = "other kernel"
                for (i = 1; i <= ncat; i++) if (b ~ re[i]) { cat = name[i]; break }
                printf "    %-44s %6.2f  %s\n", best, ksym[best] * us, cat
                delete ksym[best]
            }
        }' "$out/$server.report"
    if [ "$throughput" -lt $((rate * 98 / 100)) ]; then
        echo "    (client reached $throughput req/s, under $rate: the server or the client did not keep up)"
    fi
done
