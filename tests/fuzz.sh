#!/bin/sh
# fuzz.sh TAPFILE - run the libFuzzer targets of a -Dfuzz=true build ($FUZZ_DIR) for
# $FUZZ_SECONDS in all (default 60: the smoke of `./distlab test`; half to the scenario
# loader, a third to --set strings, the rest to `distlab id`), each seeded with its corpus
# and dictionary, and write one TAP line per target: its executions, or what it found.
# A crash, a hang (a unit over 10 s), a leak or more than 2 GB of memory is a finding; its
# input is kept in $FUZZ_KEEP (default: a folder under /tmp) and the report's tail goes in
# the TAP file. The corpus grows in a temporary copy: the source tree is never written.
set -u
tap=$1
src=${DISTLAB_SOURCE_ROOT:?}
dir=${FUZZ_DIR:?}
total=${FUZZ_SECONDS:-60}
work=$(mktemp -d /tmp/distlab-fuzz-XXXXXX)
keep=${FUZZ_KEEP:-$work/findings}
mkdir -p "$keep"
trap 'rm -rf "$work/corpus"' EXIT INT TERM
mkdir -p "$(dirname "$tap")"

# A leak inside libfyaml itself is not ours to find (fuzz/lsan.supp says which and why).
LSAN_OPTIONS="suppressions=$src/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
n=0
: >"$tap.part"
# fuzz NAME SECONDS DICT SEEDS...: one target, one TAP line.
fuzz() {
    name=$1
    secs=$2
    dict=$3
    shift 3
    corpus=$work/corpus/$name
    mkdir -p "$corpus"
    for s in "$@"; do cp "$s" "$corpus/" 2>/dev/null; done
    n=$((n + 1))
    log=$work/$name.log
    # -close_fd_mask=3: the targets print (distlab id does); libFuzzer's reports survive.
    "$dir/fuzz-$name" "$corpus" -dict="$dict" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -close_fd_mask=3 -artifact_prefix="$keep/$name-" \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        printf 'ok %d - fuzz-%s: %s executions in %ss, nothing found\n' "$n" "$name" \
            "${execs:-?}" "$secs" >>"$tap.part"
    else
        printf 'not ok %d - fuzz-%s: a finding after %s executions (input kept in %s)\n' \
            "$n" "$name" "${execs:-?}" "$keep" >>"$tap.part"
        grep -E '^(==[0-9]+==|    #|SUMMARY|ERROR|ALARM|.*runtime error)' "$log" | head -n 40 |
            sed 's/^/# /' >>"$tap.part"
        echo "fuzz-$name: finding (log: $log)"
        tail -n 40 "$log"
    fi
}

third=$((total / 3))
half=$((total / 2))
fuzz scenario "$half" "$dir/scenario.dict" "$src"/scenarios/*.yaml
fuzz set "$third" "$dir/scenario.dict" "$src"/fuzz/seeds/set/*
fuzz id $((total - half - third)) "$src/fuzz/id.dict" "$src"/fuzz/seeds/id/*
{ echo "TAP version 13"; echo "1..$n"; cat "$tap.part"; } >"$tap"
rm -f "$tap.part"
if grep -q '^not ok' "$tap"; then
    exit 1
fi
[ -n "${FUZZ_KEEP:-}" ] || rm -rf "$work" # nothing found: nothing to keep
