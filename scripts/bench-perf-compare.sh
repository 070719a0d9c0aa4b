#!/usr/bin/env bash
# Compare the performance of the working tree against a git revision, on this machine, in one
# sitting (docs/bench.md, "Per-change performance tracking").
#
#   scripts/bench-perf-compare.sh REV [options]      (or: just bench-perf-compare REV)
#
# 1. Criterion: builds REV in a separate, detached git worktree (under target/perf-compare/; the
#    main checkout's files, index and HEAD are never touched) with its own target folder, then
#    runs REV's benchmarks and the current ones alternately, --rounds times, and prints per
#    benchmark the median time of each side and the ratio current / REV. A benchmark slower by
#    more than --threshold percent fails the script (criterion itself always exits 0).
# 2. Instruction counts: `valgrind --tool=callgrind` on the simulators (examples/sim_steps.rs of
#    mpg-envs: a fixed number of steps of each task on one thread) in both builds. Counts repeat
#    exactly, so this is the steadiest gate on a noisy machine: more than --ir-threshold percent
#    more instructions fails. Skipped with a message when valgrind is not installed.
#
# Options:
#   --threshold PCT     criterion regression threshold, percent (default 10)
#   --ir-threshold PCT  instruction-count threshold, percent (default 1)
#   --rounds N          alternating rounds of the criterion benchmarks (default 2)
#   --cargo-args ARGS   what `cargo bench` runs (default "--workspace"; e.g. "-p mpg-envs --bench sim")
#   --filter REGEX      criterion's benchmark filter (default: every benchmark)
#   --no-criterion      only the instruction counts
#   --no-callgrind      only the criterion benchmarks
# Exit status: 0 no regression, 1 a regression, 2 usage or build error.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
case "$1" in -h|--help) usage ;; esac
REV=$1; shift
THRESHOLD=10 IR_THRESHOLD=1 ROUNDS=2 CARGO_ARGS="--workspace" FILTER="" CRITERION=1 CALLGRIND=1
while [ $# -gt 0 ]; do
    case "$1" in
        --threshold) THRESHOLD=$2; shift 2 ;;
        --ir-threshold) IR_THRESHOLD=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --cargo-args) CARGO_ARGS=$2; shift 2 ;;
        --filter) FILTER=$2; shift 2 ;;
        --no-criterion) CRITERION=0; shift ;;
        --no-callgrind) CALLGRIND=0; shift ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

ROOT=$(git rev-parse --show-toplevel)
cd "$ROOT"
SHA=$(git rev-parse --verify --quiet "$REV^{commit}") || { echo "error: '$REV' is not a commit" >&2; exit 2; }
WORK="$ROOT/target/perf-compare"
WT="$WORK/worktree-${SHA:0:12}"
REV_TARGET="$WORK/target"           # REV's build, kept between invocations (incremental)
CUR_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
mkdir -p "$WORK"
# libtorch as this checkout uses it (.cargo/config.toml's relative path does not exist there).
export LIBTORCH="${LIBTORCH:-$ROOT/.libtorch}"

cleanup() { git -C "$ROOT" worktree remove --force "$WT" >/dev/null 2>&1 || true; }
trap cleanup EXIT
if [ ! -d "$WT" ]; then
    git worktree add --detach --quiet "$WT" "$SHA"
fi
# The instruction-count driver: the current one, so that both sides run the same workload.
mkdir -p "$WT/crates/mpg-envs/examples"
cp "$ROOT/crates/mpg-envs/examples/sim_steps.rs" "$WT/crates/mpg-envs/examples/sim_steps.rs"

echo "comparing the working tree of $ROOT against $REV ($SHA) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
FAIL=0

if [ "$CRITERION" = 1 ]; then
    RESULTS="$WORK/results-$$"
    mkdir -p "$RESULTS"
    # shellcheck disable=SC2086
    bench() { # side dir target round
        local side=$1 dir=$2 target=$3 round=$4
        # criterion writes into a folder of this round's own (CRITERION_HOME), so nothing else
        # that runs benchmarks meanwhile, and no earlier result, can mix in
        local home="$RESULTS/criterion-$side-$round"
        echo "== round $round: $side"
        (cd "$dir" && CRITERION_HOME="$home" CARGO_TARGET_DIR="$target" cargo bench --quiet $CARGO_ARGS -- ${FILTER:+"$FILTER"} >"$RESULTS/$side-$round.log" 2>&1) || {
            echo "error: cargo bench failed for $side; see $RESULTS/$side-$round.log" >&2; tail -20 "$RESULTS/$side-$round.log" >&2; exit 2; }
        # this round's estimates: <id>\t<ns>
        (cd "$home" 2>/dev/null && find . -path '*/new/estimates.json' | sort | while read -r f; do
            id=${f#./}; id=${id%/new/estimates.json}
            printf '%s\t%s\n' "$id" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' "$f")"
        done) >"$RESULTS/$side-$round.tsv"
    }
    echo "building both sides' benchmarks (REV in $WT)…"
    # shellcheck disable=SC2086
    (cd "$WT" && CARGO_TARGET_DIR="$REV_TARGET" cargo bench --quiet $CARGO_ARGS --no-run >/dev/null 2>&1) || { echo "error: REV's benchmarks do not build" >&2; exit 2; }
    # shellcheck disable=SC2086
    cargo bench --quiet $CARGO_ARGS --no-run >/dev/null 2>&1 || { echo "error: the current benchmarks do not build" >&2; exit 2; }
    for r in $(seq 1 "$ROUNDS"); do
        bench rev "$WT" "$REV_TARGET" "$r"
        bench current "$ROOT" "$CUR_TARGET" "$r"
    done
    echo "(criterion's output and logs: $RESULTS)"
    python3 - "$RESULTS" "$ROUNDS" "$THRESHOLD" <<'PY' || FAIL=1
import sys, statistics, collections
res, rounds, thr = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
t = {s: collections.defaultdict(list) for s in ("rev", "current")}
for s in t:
    for r in range(1, rounds + 1):
        for line in open(f"{res}/{s}-{r}.tsv"):
            k, v = line.rstrip("\n").split("\t")
            t[s][k].append(float(v))
fmt = lambda ns: f"{ns/1e6:.3f} ms" if ns >= 1e5 else f"{ns/1e3:.2f} µs"
bad = []
print(f"\n{'benchmark':58} {'REV':>12} {'current':>12} {'ratio':>7}  (medians over {rounds} rounds)")
for k in sorted(set(t["rev"]) | set(t["current"])):
    a, b = t["rev"].get(k), t["current"].get(k)
    if not a or not b:
        print(f"{k:58} {'only in ' + ('current' if b else 'REV'):>34}")
        continue
    ra, rb = statistics.median(a), statistics.median(b)
    ratio = rb / ra
    flag = ""
    if ratio > 1 + thr / 100:
        flag = f"  REGRESSION (> {thr:g} %)"
        bad.append(k)
    print(f"{k:58} {fmt(ra):>12} {fmt(rb):>12} {ratio:7.3f}{flag}")
if bad:
    print(f"\n{len(bad)} benchmark(s) slower than REV by more than {thr:g} %: {', '.join(bad)}")
    sys.exit(1)
print(f"\nno criterion benchmark slower than REV by more than {thr:g} %")
PY
fi

if [ "$CALLGRIND" = 1 ]; then
    if ! command -v valgrind >/dev/null; then
        echo
        echo "SKIPPED the instruction-count gate: valgrind is not installed."
        echo "  install it with: sudo apt-get install valgrind   (or your system's package manager)"
    else
        echo
        echo "instruction counts (valgrind --tool=callgrind, examples/sim_steps.rs: 256 agents × 200 steps, 1 thread)"
        (cd "$WT" && CARGO_TARGET_DIR="$REV_TARGET" cargo build --quiet --release -p mpg-envs --example sim_steps) || { echo "error: REV's sim_steps does not build" >&2; exit 2; }
        cargo build --quiet --release -p mpg-envs --example sim_steps || { echo "error: sim_steps does not build" >&2; exit 2; }
        ir() { # binary task -> instructions executed
            valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" "$2" 256 200 2>&1 >/dev/null \
                | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | tail -1
        }
        printf '%-40s %16s %16s %8s\n' "simulator" "REV Ir" "current Ir" "ratio"
        for task in path-tracking inverted-pendulum; do
            a=$(ir "$REV_TARGET/release/examples/sim_steps" "$task")
            b=$(ir "$CUR_TARGET/release/examples/sim_steps" "$task")
            if [ -z "$a" ] || [ -z "$b" ]; then echo "error: no instruction count for $task" >&2; exit 2; fi
            verdict=$(python3 -c "import sys; a,b,t=int(sys.argv[1]),int(sys.argv[2]),float(sys.argv[3]); r=b/a; print(f'{r:8.4f}' + ('  REGRESSION (> %g %%)' % t if r > 1 + t/100 else ''))" "$a" "$b" "$IR_THRESHOLD")
            printf '%-40s %16s %16s %s\n' "sim/$task" "$a" "$b" "$verdict"
            case "$verdict" in *REGRESSION*) FAIL=1 ;; esac
        done
    fi
fi

if [ "$FAIL" = 1 ]; then
    echo; echo "RESULT: regression against $REV"; exit 1
fi
echo; echo "RESULT: no regression against $REV"
