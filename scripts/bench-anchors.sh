#!/usr/bin/env bash
# Ours beside the peers of shared/anchors (docs/performance.md, issue "fast gradient path"),
# side by side in one sitting, alternating, on 1 pinned core (taskset -c 0) and on 2 threads:
#
#   * the MPG-v2 path-tracking policy gradient (batch 256, H = 25, Q1, clip, Adam):
#     JAX jit (`jax_mpg_grad.py`) against ours (`benches/fast.rs`,
#     `policy-step/path-tracking/mpg-v2-q1/fast`), in ms;
#   * TD3 and SAC on the pendulum, one env step + one update per iteration, batch 256:
#     sbx (`sbx_td3_speed.py`) against ours (`crates/mpg-runner/benches/updates.rs`), in
#     updates/s.
#
# The peers are installed on first use into a throw-away venv OUTSIDE the repository
# ($ANCHORS_VENV, default $HOME/anchors-venv; ~5 GB with torch). Settings (environment):
#   ANCHORS_VENV   the venv (created if missing)
#   ANCHORS_DIR    the anchor scripts (default: ../shared/anchors beside the checkout)
#   ROUNDS         rounds of the alternation (default 3); the medians are reported
#   WHAT           "mpg", "td3", "sac" or a space-separated list (default "mpg td3 sac")
#   THREADS        "1", "2" or "1 2" (default "1 2")
#   UPDATES        timed iterations of ours per TD3/SAC run (default 2000)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${ANCHORS_VENV:-$HOME/anchors-venv}
anchors=${ANCHORS_DIR:-$root/../shared/anchors}
rounds=${ROUNDS:-3}
what=${WHAT:-mpg td3 sac}
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
[[ $what != *mpg* ]] || cargo bench -p mpg-algos --bench fast --no-run --quiet 2>/dev/null

pin() { if [[ $1 == 1 ]]; then echo "taskset -c 0"; fi; }

# One measurement: prints one number (ms for mpg, updates/s for td3/sac).
ours() { # WHAT THREADS
  local w=$1 t=$2
  if [[ $w == mpg ]]; then
    # ours on T threads: matrixmultiply and the model sweep are single-threaded, so the
    # 2-thread figure is the 1-thread computation left unpinned.
    $(pin "$t") cargo bench -q -p mpg-algos --bench fast -- 'policy-step/path-tracking/mpg-v2-q1/fast$' 2>/dev/null |
      awk '{ for (i = 1; i <= NF; i++) if ($i == "time:") { v = $(i+3); u = $(i+4)
               if (u == "µs") v /= 1000; if (u == "s") v *= 1000; print v; exit } }'
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

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %-7s %-6s %-28s %-28s %s\n' work threads unit ours peer ratio
for w in $what; do
  for t in $threads_list; do
    o=(); p=()
    for ((r = 0; r < rounds; r++)); do
      o+=("$(ours "$w" "$t")")
      p+=("$(peer "$w" "$t")")
    done
    om=$(printf '%s\n' "${o[@]}" | median)
    pm=$(printf '%s\n' "${p[@]}" | median)
    if [[ $w == mpg ]]; then
      unit=ms; name=JAX; ratio=$(awk -v a="$om" -v b="$pm" 'BEGIN { printf "%.2f (ours/JAX time; target <= 1.0)", a / b }')
    else
      unit=upd/s; name=sbx; ratio=$(awk -v a="$om" -v b="$pm" 'BEGIN { printf "%.2f (ours/sbx updates/s; target >= 1.0)", a / b }')
    fi
    printf '%-5s %-7s %-6s %-28s %-28s %s\n' "$w" "$t" "$unit" "$om [${o[*]}]" "$pm [${p[*]}] ($name)" "$ratio"
  done
done
