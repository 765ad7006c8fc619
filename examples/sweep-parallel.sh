#!/bin/sh
# sweep-parallel.sh N OUT SCENARIO [RUN OPTIONS...] - spread one scenario's runs over N
# slices with GNU parallel, then merge them into OUT/<name>/ as a single run would write.
#
#   examples/sweep-parallel.sh 8 sweep scenarios/lb_shuffle_bias_n.yaml
#
# Each slice is `distlab run --shard I/N`, writing its partial result under
# OUT/parts/I/. Here the slices run on this machine, -j jobs at a time (parallel's
# default: one per core); with a filesystem the machines share, add
# `--sshloginfile HOSTS` to the parallel line to run them on those machines instead.
# A slice exits 1 when one of its expectations fails: it is still a result, and the
# merge reports that expectation again; any other failure stops the sweep.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 N OUT SCENARIO [RUN OPTIONS...]" >&2; exit 2; }
n=$1
out=$2
shift 2
distlab=${DISTLAB:-./distlab}
# One job per slice; -q passes each word as it is. The inner sh gets distlab, I, N, OUT
# and the run options as its arguments.
# shellcheck disable=SC2016
seq 1 "$n" | parallel -q --halt now,fail=1 \
    sh -c 'd=$0 i=$1 n=$2 o=$3; shift 3
           "$d" run -q --shard "$i/$n" --out "$o/parts/$i" "$@" || [ $? -eq 1 ]' \
    "$distlab" {} "$n" "$out" "$@"
"$distlab" merge "$out"/parts/* --out "$out"
