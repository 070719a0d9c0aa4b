#!/usr/bin/env bash
# One control run behind results/quick/notes.md: a committed `quick` cell's config run on the
# synchronous trainer with one or more settings changed, so that it differs from the cell's
# synchronous control (`__d0`, scripts/staleness-controls.sh) by those settings alone.
# Deterministic: the same command gives the same eval.csv on the same machine and build.
#   scripts/controls.sh CELL ITERATIONS EVAL_INTERVAL NAME [KEY=VALUE...]
#   scripts/controls.sh inverted-pendulum__mpg-v2__s0 6000 500 paperT100k \
#       learner.weight_rule=paper learner.weight_total_ite=100000
#   scripts/controls.sh inverted-pendulum__mpg-v2__s0 6000 500 q1 learner.critic=q1
# Runs into $CONTROLS_DIR/<cell>__<NAME> (resumable; CONTROLS_DIR defaults to
# results/bench/controls), then copies each finished run's
# config, provenance, eval.csv and train.csv (the critic's loss and the policy loss, which the
# notes quote) into results/quick/controls/ (`mpg bench --collect … --train`).
set -euo pipefail
cell=${1:?usage: controls.sh CELL ITERATIONS EVAL_INTERVAL NAME [KEY=VALUE...]}
iters=${2:?iterations}
every=${3:?eval interval}
name=${4:?name of the control (a folder-name suffix)}
shift 4
case $name in *[!A-Za-z0-9_.-]*) echo "controls: NAME must be letters, digits, . _ -" >&2; exit 2 ;; esac
cfg=results/quick/runs/$cell/config.toml
[ -f "$cfg" ] || { echo "controls: no committed run $cfg" >&2; exit 2; }
mpg=${MPG:-target/release/mpg}
dir=${CONTROLS_DIR:-results/bench/controls}
out=$dir/${cell}__$name
if [ -f "$out/status" ]; then
  [ "$(tr -d '[:space:]' < "$out/status")" = finished ] || "$mpg" train --resume "$out" --quiet
else
  sets=()
  for kv in "$@"; do sets+=(--set "$kv"); done
  "$mpg" train --config "$cfg" --set trainer=sync "${sets[@]}" \
    --iterations "$iters" --set "eval.interval=$every" --out "$out" --quiet
fi
"$mpg" bench --out "$dir" --collect results/quick/controls --train
