#!/usr/bin/env bash
# Benchmark of training on several processes (issue 15): training images/s
# of `convkit train` on a real two-class photo set, per model, for
#
#   alone        one process, --threads 2, whole batches (today's train)
#   shards S     one process, --threads 2, --shards S: what the fixed-order
#                sum that makes any process count give the same bits costs
#   np 1         mpirun -np 1, --threads 2
#   np 2         mpirun -np 2 --bind-to core, --threads 1 each (2 shards)
#
# with, per configuration, the seconds per epoch spent waiting for the
# other processes (comm_wait) and for batches (input_stall), and the
# bytes of gradient each step exchanges. Each figure is the best of
# ROUNDS rounds (configurations alternate within a round) of the mean
# images/s over the epochs after the first.
#
#   scripts/bench-mpi.sh [-d PHOTO_DIR] [-m "MODEL..."] [-e EPOCHS] [-r ROUNDS] [-s SHARDS]
#
# PHOTO_DIR is a class-per-folder tree (default: the alien-vs-predator
# photos in ../shared/data); it is prepared into a temporary catalog.
# Prints a Markdown table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data/alien-vs-predator/train models="catsdogs-1st catsdogs-2nd" epochs=3 rounds=2
shards=4
while getopts "d:m:e:r:s:" o; do
  case $o in
    d) data=$OPTARG ;;
    m) models=$OPTARG ;;
    e) epochs=$OPTARG ;;
    r) rounds=$OPTARG ;;
    s) shards=$OPTARG ;;
    *) echo "usage: scripts/bench-mpi.sh [-d PHOTO_DIR] [-m MODELS] [-e EPOCHS] [-r ROUNDS] [-s SHARDS]" >&2; exit 2 ;;
  esac
done
command -v mpirun > /dev/null || { echo "bench-mpi: no mpirun (scripts/setup.sh installs Open MPI)" >&2; exit 1; }
. scripts/bench-common.sh
mpi=(mpirun --allow-run-as-root)

"$convkit" prepare-dataset "$data" --split train=0.8,validation=0.2 --seed 1 -o "$scratch/data.db" -q \
  > /dev/null
runs=$scratch/runs.db

# run MODEL CONFIG ROUND: one timed run, recorded as CONFIG-MODEL-ROUND.
run() {
  local m=$1 c=$2 r=$3 name=$2-$1-$3
  local args=(train --data "$scratch/data.db" --model "$m" --name "$name" --epochs "$epochs"
    --batch 32 --seed 1 --val-split none --runs "$runs" -q)
  case $c in
    alone) "$convkit" "${args[@]}" --threads 2 ;;
    shards) "$convkit" "${args[@]}" --threads 2 --shards "$shards" ;;
    np1) "${mpi[@]}" -np 1 --bind-to none "$convkit" "${args[@]}" --threads 2 ;;
    np2) "${mpi[@]}" -np 2 --bind-to core "$convkit" "${args[@]}" --threads 1 ;;
  esac > /dev/null
}

# The best round's mean images/s over the epochs after the first, and its
# mean comm_wait and input_stall per epoch.
figures() { # MODEL CONFIG
  sqlite3 -separator ' ' "$runs" "
    SELECT printf('%.1f', avg(images_per_s)), printf('%.2f', avg(coalesce(comm_wait, 0))),
           printf('%.2f', avg(input_stall)),
           printf('%.1f', 1000 * avg(coalesce(comm_wait, 0) / (images_per_s * seconds / 32)))
    FROM epochs WHERE epoch > 1 AND run LIKE '$2-$1-%'
    GROUP BY run ORDER BY avg(images_per_s) DESC LIMIT 1"
}

params() { # MODEL: trainable parameters, from the summary
  "$convkit" summary "$1" | sed -n 's/^Trainable params: \([0-9,]*\).*/\1/p' | tr -d ,
}

echo "$(machine_line), best of $rounds, ${epochs} epochs per run (the first not timed), tier ${CONVKIT_ISA:-best}, $(mpirun --version | head -1)"
echo
echo "| model | configuration | processes x threads | images/s | vs alone | comm wait s/epoch (ms/step) | input stall s/epoch | gradient MB sent each way per step |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
for m in $models; do
  for r in $(seq "$rounds"); do
    for c in alone shards np1 np2; do
      run "$m" "$c" "$r"
    done
  done
  p=$(params "$m")
  mb=$(awk -v p="$p" 'BEGIN { printf "%.1f", p * 4 / 1e6 }')
  read -r base _ _ _ <<< "$(figures "$m" alone)"
  for c in alone shards np1 np2; do
    read -r ips wait stall step <<< "$(figures "$m" "$c")"
    case $c in
      alone) what="alone, whole batches" layout="1 x 2" ex=0 ;;
      shards) what="alone, --shards $shards" layout="1 x 2" ex=0 ;;
      np1) what="mpirun -np 1" layout="1 x 2" ex=0 ;;
      np2) what="mpirun -np 2 --bind-to core (2 shards)" layout="2 x 1" ex=$mb ;;
    esac
    ratio=$(awk -v a="$ips" -v b="$base" 'BEGIN { printf "%.3f", a / b }')
    echo "| $m | $what | $layout | $ips | ${ratio}x | $wait ($step) | $stall | $ex |"
  done
done
