#!/usr/bin/env bash
# Ours beside the peers of shared/anchors (docs/performance.md, issue "fast gradient path"),
# side by side in one sitting, alternating, on 1 pinned core (taskset -c 0) and on 2 threads:
#
#   * the MPG-v2 path-tracking policy gradient (batch 256, H = 25, Q1, clip, Adam):
#     JAX jit (`jax_mpg_grad.py`) against ours (`benches/fast.rs`,
#     `policy-step/path-tracking/mpg-v2-q1/fast`), in ms;
#   * TD3 and SAC on the pendulum, one env step + one update per iteration, batch 256:
#     sbx (`sbx_td3_speed.py`) against ours (`crates/mpg-runner/benches/updates.rs`), in
#     updates/s;
#   * ours alone: n-step ADP's policy gradient over MPG-v2's (`pg/path-tracking/{nadp,mpg-v2}/fast`
#     of `benches/fast.rs`, 1 pinned core), and a 2-thread training run beside a CPU hog on every
#     core over the same run idle (`scripts/bench-under-load.sh`).
#
# Targets (issue 27): MPG-v2 step <= 0.7x JAX's time on 1 core, <= 0.8x on 2 threads; TD3 and SAC
# >= 1.25x sbx's updates/s on both; n-step ADP gradient <= 1.4x MPG-v2's; loaded/idle >= 0.40.
#
# The peers are installed on first use into a throw-away venv OUTSIDE the repository
# ($ANCHORS_VENV, default $HOME/anchors-venv; ~5 GB with torch). Settings (environment):
#   ANCHORS_VENV   the venv (created if missing)
#   ANCHORS_DIR    the anchor scripts (default: ../shared/anchors beside the checkout)
#   ROUNDS         rounds of the alternation (default 3); the medians are reported
#   WHAT           "mpg", "td3", "sac", "nadp", "load" or a space-separated list
#                  (default "mpg td3 sac nadp load")
#   THREADS        "1", "2" or "1 2" (default "1 2")
#   UPDATES        timed iterations of ours per TD3/SAC run (default 2000)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${ANCHORS_VENV:-$HOME/anchors-venv}
anchors=${ANCHORS_DIR:-$root/../shared/anchors}
rounds=${ROUNDS:-3}
what=${WHAT:-mpg td3 sac nadp load}
threads_list=${THREADS:-1 2}
updates=${UPDATES:-2000}
py=$venv/bin/python

[[ -f $anchors/sbx_td3_speed.py ]] || { echo "no anchors at $anchors (set ANCHORS_DIR)" >&2; exit 2; }
case $venv in
  "$root"|"$root"/*) echo "ANCHORS_VENV must lie outside the repository" >&2; exit 2 ;;
esac

# ---- The peers, on first use.
if [[ ! -x $py ]]; then
  python3 -m venv "$venv"
fi
if ! "$py" -c 'import jax, optax' 2>/dev/null; then
  "$venv/bin/pip" install --quiet jax optax
fi
if [[ $what == *td3* || $what == *sac* ]] && ! "$py" -c 'import sbx, gymnasium, mujoco' 2>/dev/null; then
  "$venv/bin/pip" install --quiet torch==2.13.0 stable-baselines3 'gymnasium[mujoco]' flax sbx-rl
fi

# ---- Ours, built once.
cd "$root"
cargo bench -p mpg-runner --bench updates --no-run --quiet 2>/dev/null
[[ $what != *mpg* && $what != *nadp* ]] || cargo bench -p mpg-algos --bench fast --no-run --quiet 2>/dev/null
[[ $what != *load* ]] || cargo build --release --quiet

pin() { if [[ $1 == 1 ]]; then echo "taskset -c 0"; fi; }

# ms of one criterion benchmark of benches/fast.rs (anchored regex), on T threads.
fast_ms() { # REGEX THREADS
  $(pin "$2") cargo bench -q -p mpg-algos --bench fast -- "$1" 2>/dev/null |
    awk '{ for (i = 1; i <= NF; i++) if ($i == "time:") { v = $(i+3); u = $(i+4)
             if (u == "µs") v /= 1000; if (u == "s") v *= 1000; print v; exit } }'
}

# One measurement: prints one number (ms for mpg, updates/s for td3/sac).
ours() { # WHAT THREADS
  local w=$1 t=$2
  if [[ $w == mpg ]]; then
    # ours on T threads: `policy-step-2t` runs the step with the run setting threads = 2.
    if [[ $t == 1 ]]; then fast_ms 'policy-step/path-tracking/mpg-v2-q1/fast$' 1
    else OMP_WAIT_POLICY=passive fast_ms "policy-step-${t}t/path-tracking/mpg-v2-q1/fast\$" "$t"; fi
  else
    # libgomp's spinning workers would take the core the Q2 gradient's thread needs.
    OMP_WAIT_POLICY=passive $(pin "$t") cargo bench -q -p mpg-runner --bench updates -- "$w" "$t" "$updates" fast 2>/dev/null |
      awk '/updates\/s/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^updates\/s/) { print $i; exit } }'
  fi
}
peer() { # WHAT THREADS
  local w=$1 t=$2
  if [[ $w == mpg ]]; then
    (cd "$anchors" && $(pin "$t") "$py" jax_mpg_grad.py "$t" 2>/dev/null) |
      awk '/ms$/ { print $(NF-1) }'
  else
    (cd "$anchors" && $(pin "$t") "$py" sbx_td3_speed.py "$w" "$t" 2>/dev/null) |
      awk '/updates\/s/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^updates\/s/) { print $i; exit } }'
  fi
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p') (family $(lscpu | sed -n 's/^CPU family: *//p'), model $(lscpu | sed -n 's/^Model: *//p')), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %-7s %-6s %-28s %-28s %s\n' work threads unit ours peer ratio
for w in $what; do
  case $w in
  nadp)
    # ours alone: n-step ADP's gradient over MPG-v2's, alternating, 1 pinned core.
    r=()
    for ((k = 0; k < rounds; k++)); do
      a=$(fast_ms 'pg/path-tracking/nadp/fast$' 1)
      b=$(fast_ms 'pg/path-tracking/mpg-v2/fast$' 1)
      r+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')")
    done
    rm=$(printf '%s\n' "${r[@]}" | median)
    printf '%-5s %-7s %-6s %-28s %-28s %s\n' nadp 1 ratio "[${r[*]}]" "MPG-v2 gradient" "$rm (n-step ADP / MPG-v2 gradient time; target <= 1.4)"
    ;;
  load)
    # ours alone: a 2-thread MPG-v2 run beside a CPU hog on every core over the run idle.
    out=$(ITERATIONS=${LOAD_ITERATIONS:-300} "$root/scripts/bench-under-load.sh" | tail -n 1)
    printf '%-5s %-7s %-6s %-28s %-28s %s\n' load 2 it/s "$(awk '{ print $2 " idle, " $3 " loaded" }' <<<"$out")" "itself" "$(awk '{ print $4 }' <<<"$out") (loaded / idle; target >= 0.40)"
    ;;
  mpg | td3 | sac)
    for t in $threads_list; do
      o=(); p=()
      for ((r = 0; r < rounds; r++)); do
        o+=("$(ours "$w" "$t")")
        p+=("$(peer "$w" "$t")")
      done
      om=$(printf '%s\n' "${o[@]}" | median)
      pm=$(printf '%s\n' "${p[@]}" | median)
      if [[ $w == mpg ]]; then
        target=0.7; [[ $t == 1 ]] || target=0.8
        unit=ms; name=JAX; ratio=$(awk -v a="$om" -v b="$pm" -v t="$target" 'BEGIN { printf "%.2f (ours/JAX time; target <= %s)", a / b, t }')
      else
        unit=upd/s; name=sbx; ratio=$(awk -v a="$om" -v b="$pm" 'BEGIN { printf "%.2f (ours/sbx updates/s; target >= 1.25)", a / b }')
      fi
      printf '%-5s %-7s %-6s %-28s %-28s %s\n' "$w" "$t" "$unit" "$om [${o[*]}]" "$pm [${p[*]}] ($name)" "$ratio"
    done
    ;;
  *) echo "WHAT: unknown work '$w' (allowed: mpg td3 sac nadp load)" >&2; exit 2 ;;
  esac
done
