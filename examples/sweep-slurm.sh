#!/bin/bash
# sweep-slurm.sh OUT SCENARIO [RUN OPTIONS...] - one slice of a scenario's runs as a task
# of a Slurm job array; the array's size is the number of slices.
#
#   jobid=$(sbatch --parsable --array=1-16 examples/sweep-slurm.sh sweep \
#           scenarios/lb_shuffle_bias_n.yaml)
#   sbatch --dependency=afterany:$jobid --wrap "./distlab merge sweep/parts/* --out sweep"
#
# Task I of N runs `distlab run --shard I/N` into OUT/parts/I/ (OUT on a filesystem the
# nodes share) on the CPUs Slurm gave it; the merge job waits for every task (afterany:
# a slice whose expectation failed exits 1 and is still a result) and refuses to merge
# if a slice is missing.
#SBATCH --job-name=distlab-sweep
#SBATCH --cpus-per-task=2
#SBATCH --output=slurm-%A_%a.out
set -eu
[ $# -ge 2 ] || { echo "usage: $0 OUT SCENARIO [RUN OPTIONS...]" >&2; exit 2; }
out=$1
shift
distlab=${DISTLAB:-./distlab}
i=${SLURM_ARRAY_TASK_ID:?run this as a task of a job array (sbatch --array=1-N)}
n=${SLURM_ARRAY_TASK_COUNT:?}
"$distlab" run -q -j "${SLURM_CPUS_PER_TASK:-1}" --shard "$i/$n" --out "$out/parts/$i" "$@" ||
    [ $? -eq 1 ]
