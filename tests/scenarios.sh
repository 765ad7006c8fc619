#!/bin/sh
# scenarios.sh TAPFILE [WORLD] - run `distlab check` on every scenario under scenarios/ and
# write TAP: one line per expectation (PASS/FAIL), one per scenario for the run itself
# (exit 0 or 1 is a run that happened; 2 or 3 is a broken scenario or an unreachable
# world). With WORLD=live, scenarios whose primitive has no live world are skipped.
# DISTLAB_SCENARIOS="a b": only these scenarios (names without .yaml). DISTLAB_RACES_ONLY=1
# (the ThreadSanitizer pass): each expectation goes into the TAP file as a comment, not a
# test line, since TSan slows a live run 5-15 times and the timing claims are the plain and
# ASan passes' to check; what counts is that each run ends without a report.
set -u
tap=$1
world=${2:-sim}
src=${DISTLAB_SOURCE_ROOT:?}
bin=${DISTLAB_BUILD_ROOT:?}/lab/distlab
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
n=0
: >"$tap.part"
only=$(printf '%s' "${DISTLAB_SCENARIOS:-}" | tr -s ' \t\n' '   ')
for f in "$src"/scenarios/*.yaml; do
    name=$(basename "$f" .yaml)
    case " $only " in "  " | *" $name "*) ;; *) continue ;; esac
    start=$(date +%s)
    # A line '# ci-WORLD: --set k=v ...' in a scenario narrows its run in this test (a
    # long sweep's smoke), '# ci-WORLD: skip REASON' leaves it to `distlab run`, which
    # runs the file as written.
    ci=$(sed -n "s/^# ci-$world: //p" "$f")
    case "$ci" in
    skip*)
        n=$((n + 1))
        printf 'ok %d - %s (%s world) # SKIP %s\n' "$n" "$name" "$world" "${ci#skip }" >>"$tap.part"
        continue
        ;;
    esac
    # shellcheck disable=SC2086 # the --set words split on spaces
    (cd "$work" && "$bin" check --world "$world" --out "$work/out" -j 2 $ci "$f") \
        >"$work/out.txt" 2>"$work/err.txt"
    rc=$?
    if [ "$world" = live ] && [ $rc -eq 2 ] && grep -q 'does not run in the live world' "$work/err.txt"; then
        continue
    fi
    secs=$(( $(date +%s) - start ))
    while IFS= read -r line; do
        if [ "${DISTLAB_RACES_ONLY:-0}" = 1 ]; then
            case "$line" in PASS\ * | FAIL\ *) printf '# %s\n' "$line" >>"$tap.part" ;; esac
            continue
        fi
        case "$line" in
        PASS\ *) n=$((n + 1)); printf 'ok %d - %s\n' "$n" "${line#PASS }" >>"$tap.part" ;;
        FAIL\ *) n=$((n + 1)); printf 'not ok %d - %s\n' "$n" "${line#FAIL }" >>"$tap.part" ;;
        esac
    done <"$work/out.txt"
    n=$((n + 1))
    # A run "happened" only if it exited 0, or 1 because an expectation failed; a
    # sanitizer report or an exit 1 with no failed expectation is a broken run.
    if grep -qE 'runtime error:|ERROR: (Address|Leak|Undefined)Sanitizer|WARNING: ThreadSanitizer' \
        "$work/err.txt"; then
        rc=99
    elif [ $rc -eq 1 ] && ! grep -q '^FAIL' "$work/out.txt"; then
        rc=98
    fi
    if [ $rc -le 1 ]; then
        printf 'ok %d - %s (%s world) ran in %ss\n' "$n" "$name" "$world" "$secs" >>"$tap.part"
    else
        printf 'not ok %d - %s (%s world) exited %d\n' "$n" "$name" "$world" "$rc" >>"$tap.part"
        sed 's/^/# /' "$work/err.txt" >>"$tap.part"
    fi
    [ "${DISTLAB_RACES_ONLY:-0}" = 1 ] && [ $rc -eq 1 ] && continue # an expectation: above
    [ $rc -ne 0 ] && { echo "$name ($world): exit $rc"; cat "$work/err.txt"; grep '^FAIL' "$work/out.txt"; }
done
{ echo "TAP version 13"; echo "1..$n"; cat "$tap.part"; } >"$tap"
rm -f "$tap.part"
! grep -q '^not ok' "$tap"
