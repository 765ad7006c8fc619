#!/bin/sh
# gate.sh TAPFILE [SANITIZE] - `distlab bench`'s gates through the built binary, as TAP:
#  - the exact gate on the CI set against the committed baseline
#    (results/baseline/exact.json): a line per scenario, as CI runs it;
#  - a scenario run with a different parameter must fail the exact gate, naming metrics
#    with their old and new values; re-saving one scenario leaves the other rows alone;
#  - the counted gate (in plain builds: valgrind cannot run a sanitized one): a loop counted
#    twice gives the same instructions; the same item running another structure's code
#    (heap2's fire where heap4's was) fails it, naming the figure;
#  - a timed item's rows carry their peer and direction;
#  - bad input exits 2 with a message.
set -u
. "$(dirname "$0")/../tap.sh"
sanitize=${2:-none}
# expect RC WANT FILE PATTERN TEXT: TEXT holds when the command exited WANT and its
# output FILE matches PATTERN.
expect() {
    if [ "$1" -eq "$2" ] && grep -q "$4" "$3"; then
        ok "$5"
    else
        not_ok "$5 (exited $1, not $2, or no '$4' in its output)" "$3"
    fi
}

# 1. The CI gate: the CI set's metrics equal the committed baseline, a TAP line each; a
# failing scenario shows its own differences (the TAP's comments under its line).
"$bin" bench --gate exact --baseline "$src/results/baseline/exact.json" --json exact.json \
    --markdown summary.md --tap exact.tap >exact.out 2>exact.err
rc=$?
sed -n 's/^\(not ok\|ok\) [0-9]* - \(.*\)$/\1|\2/p' exact.tap >exact.lines
i=0
while IFS='|' read -r verdict text; do
    i=$((i + 1))
    awk -v i="$i" '/^(not )?ok /{n++; next} n == i && /^# [A-Z]+ / {print substr($0, 3)}' exact.tap >item.diff
    if [ "$verdict" = ok ]; then ok "$text"; else not_ok "$text" item.diff; fi
done <exact.lines
if [ $rc -eq 0 ] && [ -s exact.lines ] && grep -q '^## distlab bench: passed' summary.md; then
    ok "the exact gate passes on the CI set ($(wc -l <exact.lines) scenarios), a Markdown summary"
else
    # the last lines: how many failed and, when metrics moved, the command that re-saves
    { tail -6 exact.out; cat exact.err; } >exact.tail
    not_ok "the exact gate exited $rc (a change meant to move simulated metrics re-saves the
# baseline in the same commit: ./distlab bench --gate exact --save results/baseline/exact.json)" \
        exact.tail
fi

# 2. A deliberate change of a simulated metric: the lock is held twice as long.
"$bin" bench --gate exact --filter '^exact/redis_lock_contention$' --set hold=2ms \
    --baseline "$src/results/baseline/exact.json" --json changed.json >changed.out 2>&1
rc=$?
expect $rc 1 changed.out 'DIFFERS .*algorithm=safe clients=1 .*: throughput was [0-9.e+]*, now' \
    "hold=2ms in redis_lock_contention fails the exact gate, naming throughput with its old\
 and new value ($(sed -n "s/^\([0-9]*\) failing.*/\1/p" changed.out) metrics differ)"

# 2a. A failing exact gate (here a suite whose item holds the lock 60 ms, not 50, and
# sweeps one algorithm more) ends with the command that re-saves the committed baseline,
# relative to the source tree; a run the baseline does not have is one finding with its
# number of metrics, not one per metric.
cat >changed.yaml <<'EOF'
exact:
  - { file: scenarios/redis_lock_seed_del.yaml,
      set: [hold=60ms, "sweep.algorithm=[seed, safe, redlock]"] }
EOF
"$bin" bench --suite changed.yaml --baseline "$src/results/baseline/exact.json" \
    --json changed2.json >changed2.out 2>&1
rc=$?
expect $rc 1 changed2.out '^    ./distlab bench --gate exact --save results/baseline/exact.json$' \
    "a failing exact gate ends with the command that re-saves the baseline"
expect $rc 1 changed2.out 'NEW .*algorithm=redlock repeat=0: a run not in the baseline ([0-9]* metrics)' \
    "a run the baseline does not have is one finding: $(grep -o 'a run not.*' changed2.out)"

# 2b. Re-saving one item keeps every other row as it was: the rows of the baseline come
# back byte for byte when the item re-saved did not change.
cp "$src/results/baseline/exact.json" resaved.json
"$bin" bench --gate exact --filter '^exact/redis_lock_seed_del$' --save resaved.json \
    --json seed_del.json >resave.out 2>&1
rc=$?
sed -n '/"rows"/,$p' "$src/results/baseline/exact.json" >rows.before
sed -n '/"rows"/,$p' resaved.json >rows.after
if [ $rc -eq 0 ] && cmp -s rows.before rows.after; then
    ok "re-saving one scenario rewrites the baseline's" \
        "$(grep -c '"gate"' rows.after) rows unchanged"
else
    diff rows.before rows.after | head -20 >>resave.out
    not_ok "re-saving one unchanged scenario should leave every row as it was (exit $rc)" resave.out
fi

# 3. The counted gate, on instructions counted by cachegrind.
cat >counted.yaml <<'EOF'
counted:
  - { name: heap4-fire, program: bench-count, args: [timer-fire, heap4, 20000] }
EOF
sed 's/heap4, 20000/heap2, 20000/' counted.yaml >counted-heap2.yaml
if [ "$sanitize" != none ]; then
    : # valgrind cannot run a sanitized binary; the plain build runs these
elif ! command -v valgrind >/dev/null 2>&1; then
    not_ok "the counted gate needs valgrind (./distlab installs it)" /dev/null
else
    "$bin" bench --suite counted.yaml --save counted.json --json c1.json >c1.out 2>&1 &&
        "$bin" bench --suite counted.yaml --baseline counted.json --counted-tolerance 0 \
            --json c2.json >c2.out 2>&1
    rc=$?
    cat c1.out >>c2.out
    expect $rc 0 c2.out '0 failing; compared 0 exact, 0 timed and 1 counted' \
        "a loop counted twice gives the same instructions (tolerance 0)"
    "$bin" bench --suite counted-heap2.yaml --baseline counted.json --json c3.json >c3.out 2>&1
    expect $? 1 c3.out 'REGRESSION .*heap4-fire.*instructions_per_op .*Ir/op.*baseline' \
        "heap2's fire where heap4's was fails the counted gate:" \
        "$(grep -o 'instructions_per_op.*tolerance 1%)' c3.out)"
fi

# 4. A timed item: rows with a peer and a direction, a repeat each.
cat >timed.yaml <<'EOF'
timed:
  - { name: timers, program: bench-timers,
      args: [--n, 2000, --reps, 1, --impl, hwheel, --impl, libuv] }
EOF
"$bin" bench --suite timed.yaml --repeat 2 --json timed.json >timed.out 2>&1
rc=$?
ratio='"figure":"speedup","unit":"x","peer":"libuv","better":"higher","repeats":2'
if [ $rc -eq 0 ] && grep -q "$ratio" timed.json; then
    ok "a timed item's ratio rows name their peer and direction, two repeats each"
elif [ $rc -eq 0 ] && ! grep -q '"impl":"libuv"' timed.json; then
    ok "timed rows # SKIP bench-timers was built without libuv"
else
    not_ok "timed rows should carry peer and direction; exit $rc" timed.out
fi

# 5. Bad input: exit 2 and a message, nothing run.
printf 'timed:\n  - { name: x, program: bench-lb, colour: red }\n' >bad.yaml
for args in "--filter (" "--gate fast" "--set hold=1ms --save $work/x.json" "--baseline $work/missing.json" "--pairs 5" \
    "--compare HEAD" "--suite bad.yaml" "--repeat 0" "extra"; do
    # shellcheck disable=SC2086
    "$bin" bench $args >bad.out 2>&1
    expect $? 2 bad.out 'distlab bench: ' \
        "bad input ($args) exits 2: $(head -1 bad.out | cut -c1-90)"
done
"$bin" bench --suite bad.yaml >bad.out 2>&1
expect $? 2 bad.out 'bad.yaml:2:[0-9]*: unknown key .colour' \
    "a bad suite file is reported at its line and column"
# A bad --set, or an empty file name, is refused before the first item runs: one message,
# no document (a bad --set once failed each exact item in turn, then ran the timed ones).
for opt in "--set nokey" "--set frob=1" "--json" "--tap" "--filter"; do
    case $opt in --set*) a=${opt#--set }; opt=--set ;; *) a='' ;; esac
    "$bin" bench "$opt" "$a" --json "$work/bad.json" >bad.out 2>&1
    rc=$?
    if [ "$(wc -l <bad.out)" -eq 1 ] && [ ! -e "$work/bad.json" ]; then
        expect $rc 2 bad.out "distlab bench: .*$opt\|distlab bench: exact/" \
            "bad input ($opt '$a') exits 2 before anything runs: $(cut -c1-90 bad.out)"
    else
        not_ok "bad input ($opt '$a'): exit $rc, $(wc -l <bad.out) lines (one wanted)" bad.out
    fi
done

finish
