#!/usr/bin/env bash
# The staleness controls behind results/quick/notes.md: a committed `quick` cell's config run
# on the synchronous trainer with `sync.staleness` = 0 and = D (docs/async.md), so that the only
# difference between two runs is the staleness of their gradients. Deterministic: the same
# command gives the same eval.csv on the same machine and build.
#   scripts/staleness-controls.sh CELL ITERATIONS EVAL_INTERVAL D...
#   scripts/staleness-controls.sh path-tracking__mpg-v2__s1 9000 1500 0 12
#   scripts/staleness-controls.sh path-tracking__ndpg__s1 6000 500 0 8 16 28
#   scripts/staleness-controls.sh inverted-pendulum__mpg-v2__s0 6000 500 0 12
# Each D is one scripts/controls.sh run named dD into results/bench/staleness/<cell>__dD
# (resumable), collected with its config, provenance, eval.csv and train.csv into
# results/quick/controls/.
set -euo pipefail
cell=${1:?usage: staleness-controls.sh CELL ITERATIONS EVAL_INTERVAL D...}
iters=${2:?iterations}
every=${3:?eval interval}
shift 3
for d in "$@"; do
  CONTROLS_DIR=results/bench/staleness scripts/controls.sh "$cell" "$iters" "$every" "d$d" "sync.staleness=$d"
done
