#!/bin/sh
# shard.sh TAPFILE - a sweep spread over slices adds up to the single run: `distlab run
# --shard I/N` for N = 1, 2, 3 and 7 (through GNU parallel and the examples/ scripts),
# merged, gives the single run's summary.json (but for "machine" and "wall_s"), CSVs
# and plot data byte for byte; slices that do not fit together are refused.
set -u
. "$(dirname "$0")/../tap.sh"

# A swept scenario (18 sweep points: try x release x task) with 2 repeats: 36 runs, so 7
# slices are uneven.
scenario=$src/scenarios/lock_trylock_single.yaml
name=lock_trylock_single
set -- --set repeat=2

# What two result directories must agree on: everything but the machine and wall times.
strip() { sed '/"machine": {/,/}/d; /"wall_s"/d' "$1"; }
same_result() {
    a=$1/$name
    b=$2/$name
    strip "$a/summary.json" >"$work/a.json" && strip "$b/summary.json" >"$work/b.json" &&
        cmp -s "$work/a.json" "$work/b.json" || return 1
    for f in "$a"/*.csv "$a"/*.dat; do
        cmp -s "$f" "$b/$(basename "$f")" || return 1
    done
    ls "$b"/*.svg >/dev/null 2>&1 || ! ls "$a"/*.svg >/dev/null 2>&1
}

check "the single run" "'$bin' run -q --out single '$scenario' $* 2>err.txt"
check "the single run's summary has its 36 runs" \
    "[ \$(grep -c '\"wall_s\"' single/$name/summary.json) -eq 36 ]"

for slices in 1 2 3 7; do
    rm -rf "parts$slices" "merged$slices"
    seq 1 "$slices" | parallel -q sh -c \
        'd=$0 i=$1 n=$2; shift 3; "$d" run -q --shard "$i/$n" --out "parts$n/$i" "$@"' \
        "$bin" {} "$slices" - "$scenario" "$@" 2>err.txt
    check "$slices slice(s) run through GNU parallel" "[ \$? -eq 0 ]"
    check "$slices slice(s) merged" \
        "'$bin' merge -q parts$slices/* --out merged$slices >out.txt 2>err.txt"
    check "$slices slice(s) give the single run's summary.json, CSVs and plot data" \
        "same_result single merged$slices"
done

# The documented examples, as a user would run them.
rm -rf ex
check "examples/sweep-parallel.sh (3 slices)" \
    "DISTLAB='$bin' '$src/examples/sweep-parallel.sh' 3 ex '$scenario' $* >out.txt 2>err.txt"
check "... gives the single run's results" "same_result single ex"
rm -rf exs
for i in 1 2; do
    DISTLAB=$bin SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=2 SLURM_CPUS_PER_TASK=2 \
        bash "$src/examples/sweep-slurm.sh" exs "$scenario" "$@" >out.txt 2>err.txt ||
        not_ok "examples/sweep-slurm.sh task $i of 2"
done
check "examples/sweep-slurm.sh as a job array of 2, merged" \
    "'$bin' merge -q exs/parts/* --out exs >out.txt 2>err.txt && same_result single exs"

# A slice adds its file under the lock whole sets are swapped in under: while another
# writer holds --out, it waits and says so, then writes.
mkdir locked
flock locked sh -c ': >held; sleep 2' &
holder=$!
while [ ! -e held ] && kill -0 "$holder" 2>/dev/null; do sleep 0.1; done
"$bin" run -q --shard 1/2 --out locked "$scenario" "$@" 2>err.txt
rc=$?
wait "$holder"
check "a slice waits for the lock on its --out, then writes" \
    "[ $rc -eq 0 ] && grep -q 'another distlab is writing into locked: waiting' err.txt &&
     [ -s locked/$name/shard-1-of-2.json ]"

# Slices that do not fit together.
refused() { # refused WHAT PATTERN DIR...: merge exits 2, says PATTERN, writes nothing
    what=$1
    pattern=$2
    shift 2
    "$bin" merge "$@" --out refused >out.txt 2>err.txt
    refused_as "$what" "$pattern" refused $?
}
refused "a missing slice" "1 of its 7 slices is missing: 4" \
    parts7/1 parts7/2 parts7/3 parts7/5 parts7/6 parts7/7
cp -r parts3/2 twice
refused "a slice given twice" "slice 2 of 3 is given twice" parts3/* twice
refused "slices of different splits" "different splits" parts3/1 parts2/2
"$bin" run -q --shard 2/2 --seed 9 --out seed9 "$scenario" "$@" 2>err.txt
refused "a slice with another seed" "the seeds differ \\(1 and 9\\)" parts2/1 seed9
"$bin" run -q --shard 2/2 --out set "$scenario" --set repeat=3 2>err.txt
refused "a slice with other --set options" "the --set options differ" parts2/1 set
sed 's/^name: .*/&\n# a comment changes the file/' "$scenario" >other.yaml
"$bin" run -q --shard 2/2 --out other other.yaml "$@" 2>err.txt
refused "a slice of another scenario file" "the scenario files differ" parts2/1 other
mkdir -p version
sed 's/"version":"[^"]*"/"version":"v0.0-other"/' "parts2/2/$name/shard-2-of-2.json" \
    >version/shard-2-of-2.json
refused "a slice of another version" "the versions of distlab differ" parts2/1 version
mkdir -p moved
sed 's/"index":1,/"index":3,/' "parts2/2/$name/shard-2-of-2.json" >moved/shard-2-of-2.json
refused "a run in the wrong slice" "not a run of slice 2 of 2" parts2/1 moved
refused "a directory without partial results" "no partial results" single
check "--shard out of range is bad input" \
    "'$bin' run --shard 3/2 '$scenario' 2>err.txt; [ \$? -eq 2 ] && grep -q 'I/N' err.txt"

finish
