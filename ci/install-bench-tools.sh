#!/usr/bin/env bash
# Installs the external tools the comparison suite (benches/compare) runs
# beside the Rust peers: fio (file reads), wrk (HTTP), strace (syscall
# counts), and those of its two scripts: valgrind (instructions.sh) and
# perf (kernel-profile.sh). Idempotent: a tool already on PATH is left
# alone, and `apt-get update` runs at most once, only if something is
# missing.
#
# Usage (as root, or with sudo available), on Debian or Ubuntu:
#   bash ci/install-bench-tools.sh
set -euo pipefail

TOOLS=(fio wrk strace valgrind perf)

# The package that provides a tool, where its name differs. Debian's
# linux-perf works with any running kernel; on Ubuntu perf comes with the
# kernel's own linux-tools package.
package_of() {
    case "$1" in
        perf)
            if grep -qi '^ID=ubuntu' /etc/os-release 2>/dev/null; then
                echo "linux-tools-common linux-tools-$(uname -r)"
            else
                echo linux-perf
            fi
            ;;
        *) echo "$1" ;;
    esac
}

missing=()
for tool in "${TOOLS[@]}"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        missing+=("$tool")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-bench-tools: all present: ${TOOLS[*]}"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-bench-tools: missing ${missing[*]}; run as root (or install sudo)" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-bench-tools: missing ${missing[*]} and no apt-get here; install them with your package manager" >&2
    exit 1
fi

packages=()
for tool in "${missing[@]}"; do
    read -r -a pkgs <<<"$(package_of "$tool")"
    packages+=("${pkgs[@]}")
done
echo "install-bench-tools: installing ${packages[*]} (for ${missing[*]})"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends "${packages[@]}"

for tool in "${missing[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "install-bench-tools: $tool still missing after apt-get install" >&2
        exit 1
    }
done
echo "install-bench-tools: done"
