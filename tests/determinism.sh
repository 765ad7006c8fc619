#!/bin/sh
# determinism.sh TAPFILE - every scenario that runs in the simulated world, run twice
# (-j 2, then -j 1: other threads, other order of runs): summary.json must be the same but
# for "machine" and each run's "wall_s", and every other file (CSVs, documents) the same byte
# for byte. One TAP line per scenario. A run that does not finish (exit 2, 3) is a failure
# here too.
set -u
tap=$1
src=${DISTLAB_SOURCE_ROOT:?}
bin=${DISTLAB_BUILD_ROOT:?}/lab/distlab
work=$(mktemp -d /tmp/distlab-determinism-XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
n=0
: >"$tap.part"

# same A B: summaries equal but for machine and wall_s; then the CSVs.
same() {
    python3 - "$1/summary.json" "$2/summary.json" <<'EOF' || return 1
import json, sys
def load(p):
    s = json.load(open(p))
    s.pop("machine", None)
    for r in s.get("runs", []):
        r.pop("wall_s", None)
    return s
a, b = load(sys.argv[1]), load(sys.argv[2])
if a != b:
    ra, rb = a.get("runs", []), b.get("runs", [])
    for i, (x, y) in enumerate(zip(ra, rb)):
        if x != y:
            keys = [k for k in x.get("metrics", {}) if x["metrics"].get(k) != y.get("metrics", {}).get(k)]
            print("run %d differs: %s" % (i, ", ".join(keys) or "(not in metrics)"))
            break
    sys.exit(1)
EOF
    # every other file of the set (CSVs, documents such as placement.md), byte for byte,
    # and the same names on both sides
    a=$(cd "$1" && find . -type f ! -name summary.json | sort)
    b=$(cd "$2" && find . -type f ! -name summary.json | sort)
    [ "$a" = "$b" ] || { echo "the sets hold different files"; return 1; }
    for f in $a; do
        cmp -s "$1/$f" "$2/$f" || { echo "${f#./} differs"; return 1; }
    done
}

for f in "$src"/scenarios/*.yaml; do
    name=$(basename "$f" .yaml)
    ok=1
    why=""
    for j in 2 1; do
        (cd "$work" && "$bin" check -q --out "$work/j$j" -j "$j" "$f") \
            >"$work/out.txt" 2>"$work/err.txt"
        rc=$?
        if [ $rc -ne 0 ]; then
            if [ $rc -eq 2 ] && grep -q 'does not run in the sim world' "$work/err.txt"; then
                ok=2
                break
            fi
            [ $rc -eq 1 ] && continue # an expectation failed: scenarios-sim says so
            ok=0
            why="exited $rc: $(head -n 1 "$work/err.txt")"
            break
        fi
    done
    [ $ok -eq 2 ] && continue
    sname=$(sed -n 's/^name: *//p' "$f" | head -n 1)
    if [ $ok -eq 1 ] && ! why=$(same "$work/j2/$sname" "$work/j1/$sname"); then
        ok=0
    fi
    n=$((n + 1))
    if [ $ok -eq 1 ]; then
        printf 'ok %d - %s: the same summary.json, CSVs and documents from two runs\n' "$n" \
            "$name" >>"$tap.part"
    else
        printf 'not ok %d - %s: two runs differ: %s\n' "$n" "$name" "$why" >>"$tap.part"
        echo "$name: two runs differ: $why"
    fi
    rm -rf "$work/j1" "$work/j2"
done
{ echo "TAP version 13"; echo "1..$n"; cat "$tap.part"; } >"$tap"
rm -f "$tap.part"
! grep -q '^not ok' "$tap"
