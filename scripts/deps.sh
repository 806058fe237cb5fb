#!/bin/sh
# Installs the Debian packages concbench needs to build, test, benchmark and
# plot, skipping what is already installed. Non-interactive, so CI (no stdin)
# and a fresh Debian 12 machine need nothing else. The Makefile calls it.
set -eu

# Build: compiler, pkg-config and the libraries the code links.
pkgs="build-essential pkg-config libjansson-dev libuv1-dev
libboost-context-dev libhttp-parser-dev libck-dev liburing-dev"
# Tests: Criterion (unit), bats and jq (CLI), nginx (a real HTTP peer),
# valgrind and clang with its sanitizer/fuzzer runtimes (reliability),
# Slurm and munge (a one-node cluster for the examples' job array), PyYAML
# (the examples' workflows and manifests).
pkgs="$pkgs libcriterion-dev bats jq nginx valgrind clang libclang-rt-14-dev"
pkgs="$pkgs slurm-wlm munge python3-yaml"
# Benchmarks and charts: the reference tools and Debian's matplotlib.
pkgs="$pkgs hyperfine primesieve wrk python3-matplotlib"
# The python model: CPython's own gevent (its other apis are in python3).
pkgs="$pkgs python3-gevent"

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The nginx package enables and starts a system service; concbench's tests
# run their own nginx on loopback, so the system one only holds port 80.
if echo "$missing" | grep -q nginx; then
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
        $sudo systemctl stop nginx || true
    elif [ -f /run/nginx.pid ]; then
        $sudo kill "$(cat /run/nginx.pid)" 2>/dev/null || true
    fi
fi
