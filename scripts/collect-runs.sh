#!/usr/bin/env bash
# Copy the finished runs of a bench folder into a folder meant for git: per run only
# config.toml, provenance.toml and eval.csv (no checkpoints, no per-interval logs), which is
# all `mpg report` needs for Table I and Fig. 4–5 (docs/bench.md, "Committed results").
#   scripts/collect-runs.sh results/bench/quick results/quick/runs
#   scripts/collect-runs.sh results/bench/scaling results/scaling/runs --timings
# --timings keeps train.csv and gradients.csv too: Fig. 6 (the scaling profile) reads the
# policy-gradient times from them. --train keeps train.csv only (the losses the notes quote for
# the control runs).
# Runs that are not finished are left out; a run copied before is copied again only when its
# files changed. Prints the runs it copied.
set -euo pipefail
src=${1:?usage: collect-runs.sh BENCH_DIR DEST_DIR}
dst=${2:?usage: collect-runs.sh BENCH_DIR DEST_DIR}
files="config.toml provenance.toml eval.csv"
case ${3:-} in
  --timings) files="$files train.csv gradients.csv" ;;
  --train) files="$files train.csv" ;;
  "") ;;
  *) echo "collect-runs: unknown option ${3} (allowed: --timings, --train)" >&2; exit 2 ;;
esac
mkdir -p "$dst"
for run in "$src"/*/; do
  run=${run%/}
  name=$(basename "$run")
  [ -f "$run/status" ] && [ "$(tr -d '[:space:]' < "$run/status")" = finished ] || continue
  out="$dst/$name"
  changed=0
  for f in $files; do
    [ -f "$run/$f" ] || { echo "collect-runs: $run/$f missing" >&2; exit 1; }
    cmp -s "$run/$f" "$out/$f" 2>/dev/null || changed=1
  done
  [ $changed = 1 ] || continue
  mkdir -p "$out.tmp"
  for f in $files; do cp "$run/$f" "$out.tmp/"; done
  rm -rf "$out"
  mv "$out.tmp" "$out"
  echo "$name"
done
