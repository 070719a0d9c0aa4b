#!/usr/bin/env bash
# The staleness controls behind results/quick/notes.md: a committed `quick` cell's config run
# on the synchronous trainer with `sync.staleness` = 0 and = D (docs/async.md), so that the only
# difference between two runs is the staleness of their gradients. Deterministic: the same
# command gives the same eval.csv on the same machine and build.
#   scripts/staleness-controls.sh CELL ITERATIONS EVAL_INTERVAL D...
#   scripts/staleness-controls.sh path-tracking__mpg-v2__s1 9000 1500 0 12
#   scripts/staleness-controls.sh path-tracking__ndpg__s1 6000 500 0 8 16 28
#   scripts/staleness-controls.sh inverted-pendulum__mpg-v2__s0 6000 500 0 12
# Runs into results/bench/staleness/<cell>__d<D> (resumable), then copies each run's config,
# provenance, eval.csv and train.csv into results/quick/controls/ (scripts/collect-runs.sh --train).
set -euo pipefail
cell=${1:?usage: staleness-controls.sh CELL ITERATIONS EVAL_INTERVAL D...}
iters=${2:?iterations}
every=${3:?eval interval}
shift 3
cfg=results/quick/runs/$cell/config.toml
[ -f "$cfg" ] || { echo "staleness-controls: no committed run $cfg" >&2; exit 2; }
mpg=${MPG:-target/release/mpg}
for d in "$@"; do
  out=results/bench/staleness/${cell}__d$d
  if [ -f "$out/status" ]; then
    [ "$(tr -d '[:space:]' < "$out/status")" = finished ] || "$mpg" train --resume "$out" --quiet
  else
    "$mpg" train --config "$cfg" --set trainer=sync --set "sync.staleness=$d" \
      --iterations "$iters" --set "eval.interval=$every" --out "$out" --quiet
  fi
done
scripts/collect-runs.sh results/bench/staleness results/quick/controls --train
