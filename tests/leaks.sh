#!/bin/sh
# leaks.sh TAPFILE SUITE ARGS...: run a Criterion suite and fail it on a LeakSanitizer
# report. Criterion counts a test as passed when its body returns; LeakSanitizer reports
# later, as the test's worker process exits, and Criterion ignores that exit, so a leak
# in an ASan build passed unseen (lock/inproc's cut-short runs did). The report goes to
# stderr as before, and a failing TAP line goes into TAPFILE.
tap=$1
shift
err=$(mktemp /tmp/distlab-leaks-XXXXXX)
"$@" 2>"$err"
rc=$?
cat "$err" >&2
if grep -q 'ERROR: LeakSanitizer' "$err"; then
    {
        echo "not ok - LeakSanitizer: a test of this suite leaked (the report is in its stderr)"
        grep -E '^(Direct|Indirect) leak|^    #[0-4] ' "$err" | head -n 40 | sed 's/^/# /'
    } >>"$tap"
    echo "leaks.sh: LeakSanitizer found a leak in $1" >&2
    [ $rc -eq 0 ] && rc=1
fi
rm -f "$err"
exit $rc
