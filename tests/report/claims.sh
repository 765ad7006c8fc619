#!/bin/sh
# claims.sh TAPFILE - the seed's claims (scenarios/claims/seed.yaml) against the scenarios
# of this tree, without running anything: every expectation, plot and sweep value a claim
# names must be there. When a change to a scenario's expect: block takes away what a
# claim rests on, this fails with one line per problem, "file:line:col: claim ID: ...".
# Claims find expectations by metric and where:, so reordering them changes nothing.
set -u
. "$(dirname "$0")/../tap.sh"

"$bin" report --check >out.txt 2>err.txt
rc=$?
cat err.txt >&2
check "every claim of the seed holds against the scenarios (exit $rc)" "[ $rc -eq 0 ]"

# The same check on a scenario whose expectations are reordered (last first), and on
# one that lost an expectation a claim selects: the claim and the metric are named.
S=$src/scenarios/zk_lock_herd.yaml
awk '/^expect:/ { e = 1; print; next }
     e && /^  - / { n++ } e { x[n] = x[n] $0 "\n"; next } { print }
     END { for (i = n; i >= 1; i--) printf "%s", x[i] }' "$S" >zk_lock_herd.yaml
"$bin" report --check zk_lock_herd.yaml >out.txt 2>err.txt
check "expectations reordered: the claims still find theirs" \
    "[ \$? -eq 0 ] && ! cmp -s zk_lock_herd.yaml '$S' &&
     [ \$(grep -c '^  - { metric' zk_lock_herd.yaml) -eq \$(grep -c '^  - { metric' '$S') ]"
awk '/^  - \{ metric: messages_per_acquisition,/ { skip = 1; next }
     skip && /^  - / { skip = 0 } !skip { print }' "$S" >zk_lock_herd.yaml
"$bin" report --check zk_lock_herd.yaml >out.txt 2>err.txt
rc=$?
check "an expectation a claim rests on taken away: exit 2, the claim and the metric named" \
    "[ $rc -eq 2 ] &&
     grep -qE '^.*seed.yaml:[0-9]+:[0-9]+: claim zk-herd: scenario zk_lock_herd \\(zk_lock_herd.yaml\\) has no expectation on messages_per_acquisition' err.txt &&
     grep -q '1 problem (above)' err.txt"
finish
