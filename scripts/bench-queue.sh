#!/usr/bin/env bash
# Run chosen cells of a profile with N workers pulling from one queue, so that no core idles
# while the last cell of a seed runs (what `--shard S/5` does at each seed's end). Each worker
# runs `mpg bench --index I` for the next index in the queue file; cells resume from their
# checkpoints, and cells whose finished copy is under DONE are skipped.
#   scripts/bench-queue.sh PROFILE OUT DONE WORKERS [INDEX...]
#   scripts/bench-queue.sh quick results/bench/quick results/quick/runs 2 $(seq 3 5 59) $(seq 4 5 59)
# Without INDEX it goes on with the queue left in OUT/queue (a stopped session's remainder;
# put the indices of the cells that were running back first). The cell index counts task,
# algorithm, seed in that order (`mpg bench --profile P --dry-run` lists them), so seed S of a
# 5-seed, 12-cell profile is S, S+5, …, S+55. Logs: OUT/queue-worker-K.log.
set -euo pipefail
profile=${1:?usage: bench-queue.sh PROFILE OUT DONE WORKERS [INDEX...]}
out=${2:?out dir}
done_dir=${3:?done dir}
workers=${4:?number of workers}
shift 4
mpg=${MPG:-target/release/mpg}
mkdir -p "$out"
queue=$out/queue
if [ $# -gt 0 ]; then printf '%s\n' "$@" > "$queue"; fi
[ -s "$queue" ] || { echo "bench-queue: empty queue $queue" >&2; exit 2; }
worker() {
  while true; do
    i=$(flock "$queue.lock" bash -c 'i=$(head -1 "$0"); [ -n "$i" ] && sed -i 1d "$0"; echo "$i"' "$queue")
    [ -z "$i" ] && break
    echo "$(date -u +%FT%TZ) start $i"
    rc=0
    "$mpg" bench --profile "$profile" --index "$i" --jobs "$workers" --out "$out" --done "$done_dir" || rc=$?
    echo "$(date -u +%FT%TZ) end $i rc=$rc"
  done
}
for k in $(seq 1 "$workers"); do
  worker > "$out/queue-worker-$k.log" 2>&1 &
  sleep 2
done
wait
