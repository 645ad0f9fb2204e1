#!/usr/bin/env bash
# End-to-end, under mpirun: training on several processes on real HODA
# digits, with augmentation and dropout. The same --shards gives the same
# curve bit for bit alone, on 1, 2, 3 and 4 processes (3 does not divide the
# 4 shards, and the last batch of an epoch is short); a run resumes on
# another number of processes to the same curve; a process killed mid-run
# ends the job, which then resumes; catalogs that differ between processes
# are refused naming the process and machine; the recorded configuration
# says how many processes ran. Nothing here depends on timing.
#   test_mpi.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"

if ! command -v mpirun > /dev/null; then
  echo "note: no mpirun (openmpi-bin), skipped"
  finish
  exit
fi
need_shared hoda/RemainingSamples.cdb || { finish; exit; }
# Open MPI's own allocations are not convkit's to free.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
mpi() { # NP COMMAND...
  local np=$1; shift
  mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$np" "$@"
}

"$convkit" prepare-dataset "$shared/hoda/RemainingSamples.cdb" \
  --split train=0.9,validation=0.05,test=0.05 --seed 1 --limit-per-class 100 -o hoda.db -q \
  > /dev/null || fail "prepare HODA"
cat > small.spec <<'SPEC'
Input(shape=(28, 28, 1))
Conv2D(8, (3, 3), activation="relu")
MaxPooling2D((2, 2))
Conv2D(16, (3, 3), activation="relu")
MaxPooling2D((2, 2))
Flatten()
Dense(700, activation="relu")
Dropout(0.3)
Dense(10, activation="softmax")
SPEC
# (Dense(700)'s 280,700 weights go along the processes in two buckets.)
# 900 training samples in batches of 30: shards of 7 and 8; 1,000-sample
# epochs would end on a short batch, so the batch is 32 in one arm below.
opts() { # NAME EPOCHS [more]
  local name=$1 epochs=$2; shift 2
  echo --data hoda.db --model small.spec --resize fit --name "$name" --epochs "$epochs" \
    --batch 30 --seed 1 --threads 1 --workers 1 --augment rotate=0.03,zoom=0.1 --runs runs.db -q "$@"
}
curve() { # RUN: the deterministic columns, every bit
  sqlite3 runs.db "SELECT epoch, printf('%.17g|%.17g|%.17g|%.17g', loss, accuracy, val_loss,
    val_accuracy) FROM epochs WHERE run = '$1' ORDER BY epoch"
}

expect_status 0 "alone, 4 shards" "$convkit" train $(opts alone 3 --shards 4)
expect_status 0 "alone, whole batches" "$convkit" train $(opts whole 3)
for np in 1 2 3 4; do
  expect_status 0 "$np processes, 4 shards" mpi $np "$convkit" train $(opts np$np 3 --shards 4)
  expect_eq "$(curve np$np)" "$(curve alone)" "$np processes: the same curve as alone, bit for bit"
done
expect_eq "$(sqlite3 runs.db "SELECT count(*) FROM epochs WHERE run = 'alone'")" 3 "three epochs"
[ "$(curve whole)" != "$(curve alone)" ] && ok "shards sum in another order than whole batches" ||
  fail "4 shards gave whole batches' bits: the test cannot tell shards apart"
expect_eq "$(sqlite3 runs.db "SELECT config ->> 'processes', config ->> 'shards' FROM runs
  WHERE name = 'np2'")" "2|4" "the configuration records processes and shards"
expect_eq "$(sqlite3 runs.db "SELECT count(*) FROM runs WHERE name = 'np3'")" 1 \
  "one record for the job, by process 0"
expect_eq "$(sqlite3 runs.db "SELECT count(*) FROM epochs WHERE run = 'np3' AND comm_wait IS NOT NULL")" 3 \
  "the time waiting for the others is recorded per epoch"

# A batch that the processes cannot share evenly: 32 in 3 shards on 2 and
# 3 processes, the epoch's last batch short (900 = 28 x 32 + 4).
expect_status 0 "alone, batch 32, 3 shards" "$convkit" train $(opts b32 2 --shards 3 --batch 32)
expect_status 0 "2 processes, batch 32, 3 shards" mpi 2 "$convkit" train $(opts b32np2 2 --shards 3 --batch 32)
expect_eq "$(curve b32np2)" "$(curve b32)" "uneven shares: the same curve"

# Resume across process counts: 2 processes for an epoch, then 1 to the
# third, then 3 (extending to 4 epochs against an uninterrupted 4).
expect_status 0 "2 processes, 1 epoch" mpi 2 "$convkit" train $(opts moved 1 --shards 4)
expect_status 0 "resumed alone" "$convkit" train $(opts moved 3 --shards 4) --resume
expect_eq "$(curve moved)" "$(curve alone)" "resumed on another number of processes: the same curve"
expect_status 0 "extended on 3 processes" mpi 3 "$convkit" train $(opts moved 4 --shards 4) --resume
expect_status 0 "uninterrupted, 4 epochs" "$convkit" train $(opts four 4 --shards 4)
expect_eq "$(curve moved)" "$(curve four)" "extended on 3 processes: the same curve"
expect_status 2 "resume with other shards: refused" "$convkit" train $(opts four 5 --shards 2) --resume
expect_output "shards" "the refusal names --shards"

# Options: fewer shards than processes; other commands stay alone.
expect_status 2 "fewer shards than processes" mpi 2 "$convkit" train $(opts few 1 --shards 1)
expect_output "each of the 2 processes needs a shard" "says why"
expect_status 2 "info under mpirun: refused" mpi 2 "$convkit" info hoda.db
expect_output "only train shares its work out" "says which command does"

# A catalog that differs on one process (another seed, so another hash).
"$convkit" prepare-dataset "$shared/hoda/RemainingSamples.cdb" \
  --split train=0.9,validation=0.05,test=0.05 --seed 2 --limit-per-class 100 -o other.db -q \
  > /dev/null || fail "prepare the other catalog"
mpirun --allow-run-as-root --oversubscribe --bind-to none \
  -np 1 "$convkit" train $(opts mixed 1 --shards 2) : \
  -np 1 "$convkit" train $(opts mixed 1 --shards 2 | sed 's/hoda.db/other.db/') > "$work/out" 2>&1
st=$?
[ "$st" -ne 0 ] && ok "mismatched catalogs: refused (exit $st)" || fail "mismatched catalogs ran"
expect_output "process 1 on $(hostname)[^ ]* reads a catalog with dataset hash" \
  "the refusal names the process and its machine"
expect_eq "$(sqlite3 runs.db "SELECT count(*) FROM epochs WHERE run = 'mixed'")" 0 "no epoch trained"

# Processes on kernel tiers that round differently are refused.
if "$convkit" bench train mnist --steps 1 --threads 1 --json 2>/dev/null | grep -q '"isa":"generic"'; then
  echo "note: this CPU runs the generic tier only, tier mismatch not tested"
else
  mpirun --allow-run-as-root --oversubscribe --bind-to none \
    -np 1 "$convkit" train $(opts tiers 1 --shards 2) : \
    -np 1 env CONVKIT_ISA=generic "$convkit" train $(opts tiers 1 --shards 2) > "$work/out" 2>&1
  st=$?
  [ "$st" -ne 0 ] && ok "mixed kernel tiers: refused (exit $st)" || fail "mixed kernel tiers ran"
  expect_output "process 1 on [^ ]+ runs the generic kernel tier" "the refusal names the tier"
fi

# A process killed mid-run ends the job (mpirun reports it; nothing hangs),
# and the run resumes from its last checkpoint to the uninterrupted curve.
mpi 2 "$convkit" train $(opts killed 4 --shards 4) > killed.out 2>&1 &
job=$!
for _ in $(seq 1 3000); do
  n=$(sqlite3 runs.db "SELECT count(*) FROM epochs WHERE run = 'killed'" 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 1 ] && break
  sleep 0.02
done
victim=$(pgrep -n -f -- "--name killed") && kill -9 "$victim"
wait $job
st=$?
n=$(sqlite3 runs.db "SELECT count(*) FROM epochs WHERE run = 'killed'")
[ "$st" -ne 0 ] && [ "$n" -lt 4 ] && ok "a killed process ends the job (exit $st after $n epochs)" ||
  fail "killed process" "exit $st after $n epochs: $(head -c 400 killed.out)"
grep -qE "signal 9|\(Killed\)" killed.out && ok "mpirun names the killed process" ||
  fail "mpirun names the killed process" "$(head -c 400 killed.out)"
expect_status 0 "resumed on 2 processes" mpi 2 "$convkit" train $(opts killed 4 --shards 4) --resume
expect_eq "$(curve killed)" "$(curve four)" "killed and resumed: the uninterrupted curve"

finish
