#!/usr/bin/env bash
# Training speed idle and beside a CPU hog on every core (issue 23: libgomp's spinning workers
# made a 2-thread run collapse from ~90 to 0.5 iterations/s under load). Not a timed test: a
# benchmark whose numbers go in the report.
#
# usage: scripts/bench-under-load.sh [MPG_BINARY...]   (default: target/release/mpg)
# Each binary: a short MPG-v2 pendulum run with threads = 2, idle, then beside two `yes`
# processes (nice 0); prints iterations/s of each and the loaded/idle ratio (target >= 0.40).
# ITERATIONS (default 200) sets the run length. Measures the run's own wall clock from
# train.csv, so start-up is excluded. "Idle" means without the hogs: other work on the machine
# still counts, so run it on a quiet machine for clean numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(target/release/mpg)
iters=${ITERATIONS:-200}
tmp=$(mktemp -d)
hogs=()
cleanup() {
    for p in "${hogs[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# iterations/s of one run: the last iteration over its wall_s column in train.csv
rate() {
    local bin=$1 out=$tmp/run.$RANDOM
    "$bin" train --algo mpg-v2 --task inverted-pendulum --iterations "$iters" \
        --set threads=2 --set eval.interval=100000 --quiet --out "$out" >/dev/null
    tail -n 1 "$out/train.csv" | awk -F, '{ printf "%.2f", $1 / $2 }'
    rm -rf "$out"
}

printf '%-40s %12s %12s %8s\n' binary "idle it/s" "loaded it/s" ratio
for bin in "${bins[@]}"; do
    idle=$(rate "$bin")
    hogs=()
    for _ in $(seq "$(nproc)"); do
        nice -n 0 yes >/dev/null &
        hogs+=($!)
    done
    loaded=$(rate "$bin")
    for p in "${hogs[@]}"; do kill "$p"; done
    wait "${hogs[@]}" 2>/dev/null || true
    hogs=()
    printf '%-40s %12s %12s %8s\n' "$bin" "$idle" "$loaded" \
        "$(awk -v a="$loaded" -v b="$idle" 'BEGIN { printf "%.2f", a / b }')"
done
