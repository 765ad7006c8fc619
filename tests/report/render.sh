#!/bin/sh
# render.sh TAPFILE - `distlab report` on a small set of scenarios (some run by the report,
# some run elsewhere and given with --from, one as slices of `run --shard`), then the page
# in headless Chromium: every plot present and drawn, every claim with a verdict, no
# request leaving the page (checked in the DOM and in Chromium's own network log), a
# screenshot that is not blank, --pdf; and claims files with errors refused at file:line:col.
set -u
. "$(dirname "$0")/../tap.sh"

# Chromium as the test drives it: headless, off the network (no background services,
# names unresolvable, a proxy nobody listens on, and a network namespace of its own
# when one can be made), its network log kept.
chromium=$(command -v chromium || command -v chromium-browser)
netns=""
unshare -n true 2>/dev/null && netns="unshare -n"
browse() { # browse NETLOG ARGS... : chromium's output on stdout
    log=$1
    shift
    # shellcheck disable=SC2086
    $netns timeout 120 "$chromium" --headless --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-default-apps --disable-extensions "--host-resolver-rules=MAP * ~NOTFOUND" \
        --proxy-server=127.0.0.1:9 --user-data-dir="$work/profile" --hide-scrollbars \
        $( [ "$(id -u)" -eq 0 ] && echo --no-sandbox ) --log-net-log="$log" "$@" 2>>chromium.err
}
# The requests a page made, from the network log: the events whose isolation key is a
# file:// page (Chromium's own background requests have none).
page_requests() { grep '"url"' "$1" | grep -c 'network_isolation_key":"file:' ; }

# ---- The report -------------------------------------------------------------------
S=$src/scenarios
"$bin" run -q --out elsewhere --set requests=20000 "$S/lb_shuffle_bias.yaml" >/dev/null 2>err.txt
"$bin" run -q --shard 1/2 --out parts "$S/lock_trylock_single.yaml" >/dev/null 2>>err.txt
"$bin" run -q --shard 2/2 --out parts "$S/lock_trylock_single.yaml" >/dev/null 2>>err.txt
"$bin" report -q -j 2 --out rep --from elsewhere --from parts "$S/lock_mutex_counter.yaml" \
    "$S/redis_lock_seed_del.yaml" "$S/delay_broker_crash.yaml" "$S/delay_rebalance_seed.yaml" \
    >out.txt 2>>err.txt
rc=$?
# lb_shuffle_bias ran with 2% of its requests: some of its checks fail, hence exit 1.
check "report writes index.html and report.md (exit $rc)" \
    "[ $rc -le 1 ] && [ -s rep/index.html ] && [ -s rep/report.md ]"
check "a document a run wrote (placement.md) is in its scenario's section, headings under it" \
    "grep -q '^\\*\\*What the run wrote:\\*\\* \`placement.md\`' rep/report.md &&
     grep -q '^#### Placement' rep/report.md"
check "every {number} of the claims whose scenario ran was filled in" \
    "! grep -q '^distlab report: .*: claim [^:]*: {' err.txt"
check "the shard slices were merged into the report's runs" \
    "[ -s rep/runs/lock_trylock_single/summary.json ]"

claims=$(grep -c '^  - id: ' "$src/scenarios/claims/seed.yaml")
figs=$(grep -c '^\*Figure [0-9]*:' rep/report.md)
check "report.md: a section per claim ($claims)" \
    "[ \$(grep -c '^<a id=\"claim-' rep/report.md) -eq $claims ]"
check "report.md: figures shown ($figs), every PNG it links is there" \
    "[ $figs -ge 10 ] && ! grep -o '](figures/[^)]*)' rep/report.md | sed 's/^](//; s/)\$//' |
        while read -r f; do [ -s \"rep/\$f\" ] || echo missing; done | grep -q missing"

# ---- The page in Chromium -----------------------------------------------------------
page="file://$work/rep/index.html"
browse net.json --dump-dom "$page" >dom.html
check "Chromium renders the page (dump-dom)" "grep -q '</main>' dom.html"
nfig=$(grep -o '<figure id="figure-' dom.html | wc -l)
check "every figure of report.md is on the page ($figs)" "[ $nfig -eq $figs ]"
# Each figure: an inline SVG whose first plot is drawn (gnuplot's plot group holds paths,
# points or an image), with a caption.
awk 'BEGIN { RS = "<figure id=\"figure-"; bad = 0 }
     NR > 1 { f = $0; sub(/<\/figure>.*/, "", f)
              p = index(f, "-gnuplot_plot_1\""); drawn = f
              if (p) { drawn = substr(f, p); q = index(drawn, "-gnuplot_plot_2\"")
                       if (q) drawn = substr(drawn, 1, q) }
              if (f !~ /<svg/ || f !~ /<figcaption>Figure [0-9]+: / || !p ||
                  drawn !~ /<(path|use|image|polygon) /) {
                  print "figure " $0 + 0 " not drawn"; bad = 1 } }
     END { exit bad }' dom.html >>err.txt
check "every figure is an inline SVG with its plot drawn and a caption" "[ \$? -eq 0 ]"
check "ids are unique on the page" \
    "[ -z \"\$(grep -o ' id=\"[^\"]*\"' dom.html | sort | uniq -d | head -1)\" ]"
# Every claim: its section, with a verdict.
missing=0
for id in $(sed -n 's/^  - id: //p' "$src/scenarios/claims/seed.yaml"); do
    awk -v id="$id" 'BEGIN { RS = "<a id=\"claim-" } index($0, id "\"") == 1 { print }' dom.html |
        grep -qE 'Verdict:</strong> <span class="verdict (confirmed|refuted|corrected|undecided|unmeasured)"' ||
        { echo "claim $id has no verdict" >>err.txt; missing=1; }
done
check "every claim ($claims) has a verdict in its section" "[ $missing -eq 0 ]"
check "the claims table has a verdict per claim" \
    "[ \$(grep -o '<td><span class=\"verdict ' dom.html | wc -l) -eq $claims ]"
# Nothing on the page can fetch: no scripts, no external links or sources, a CSP.
check "the page has no script, no stylesheet link, no frame" \
    "! grep -qiE '<script|<link|<iframe|<object|<embed|@import' dom.html"
check "every src and href stays on the page (#anchor or data:)" \
    "! grep -oE '(src|href)=\"[^\"]*\"' dom.html | grep -vE '(src|href)=\"(#|data:)'"
check "a Content-Security-Policy forbids requests" \
    "grep -q \"default-src 'none'\" dom.html"
check "Chromium's network log: the page made no request" \
    "[ -s net.json ] && [ \$(page_requests net.json) -eq 0 ]"
# The same check catches a page that does fetch something (so it can fail).
printf '<!DOCTYPE html><img src="http://192.0.2.1/x.png"><p>x</p>' >fetch.html
browse net2.json --dump-dom "file://$work/fetch.html" >/dev/null
check "... and it sees the request of a page that makes one" \
    "[ \$(page_requests net2.json) -ge 1 ]"

# A screenshot: the page is drawn (far more ink than a blank page of the same size).
browse net3.json --window-size=1200,4000 --screenshot="$work/top.png" "$page" >/dev/null
printf '<!DOCTYPE html><p></p>' >blank.html
browse net4.json --window-size=1200,4000 --screenshot="$work/blank.png" "file://$work/blank.html" \
    >/dev/null
check "a screenshot of the page is drawn, not blank" \
    "[ -s top.png ] && [ -s blank.png ] &&
     [ \$(wc -c <top.png) -gt \$((20 * \$(wc -c <blank.png))) ]"

# --pdf, and a clear message when Chromium is missing.
"$bin" report -q --out rep2 --from rep/runs --pdf >out.txt 2>err.txt
rc=$?
check "--pdf prints report.pdf with headless Chromium" \
    "[ $rc -le 1 ] && head -c 5 rep2/report.pdf | grep -q '%PDF-'"
PATH=/nonexistent "$bin" report -q --out rep3 --from rep/runs --pdf >out.txt 2>err.txt
rc=$?
check "--pdf without Chromium: exit 4, says so, the page is still written" \
    "[ $rc -eq 4 ] && grep -q 'needs headless Chromium' err.txt && [ -s rep3/index.html ]"

# The benchmark appendix from `distlab bench`'s document, and without one.
cat >bench.json <<'JSON'
{ "distlab_bench": 1, "version": "v-test", "machine": { "hostname": "box", "cpus": 2 },
  "rows": [
    { "gate": "timed", "bench": "locks", "workload": "trylock", "parameters": { "threads": 4 },
      "figure": "ratio_to_mutex", "peer": "mutex", "better": "higher", "repeats": 5,
      "min": 1.5, "median": 1.75, "max": 2.25, "samples": [1.5, 1.75, 2.25] },
    { "gate": "timed", "bench": "timers", "workload": "heap4", "parameters": {},
      "figure": "ns_per_op", "unit": "ns", "better": "lower", "repeats": 5,
      "min": 30, "median": 31, "max": 35, "samples": [30, 31, 35] } ] }
JSON
"$bin" report -q --out rep4 --from rep/runs --bench bench.json >out.txt 2>err.txt
check "the benchmark appendix shows the ratios against their peer" \
    "grep -q '^| locks | trylock threads=4 | ratio\\\\_to\\\\_mutex | mutex | 1.75' rep4/report.md &&
     grep -q '^| timers | heap4 | ns\\\\_per\\\\_op |  | 31 ns' rep4/report.md"
"$bin" report -q --out rep5 --from rep/runs --bench nothing.json >out.txt 2>err.txt
check "a --bench document that cannot be read is named in the appendix" \
    "[ \$? -le 1 ] && grep -q 'could not be read: nothing.json' rep5/report.md"
# Results that are not the scenario file's are refused, not reported under the wrong check.
mkdir -p changed
cp -r rep/runs/lock_mutex_counter changed/
sed -i 's/"text": "final_count == 1000"/"text": "final_count == 999"/' \
    changed/lock_mutex_counter/summary.json
"$bin" report -q --out rep6 --from changed >out.txt 2>err.txt
check "results that do not match the scenario file are refused" \
    "[ \$? -eq 2 ] && grep -q 'do not match' err.txt"

# ---- Claims files with errors: file:line:col, exit 2, nothing run ------------------
bad() { # bad WHAT PATTERN: the claims file bad.yaml is refused with PATTERN
    "$bin" report --claims bad.yaml --out badrep >out.txt 2>err.txt
    refused_as "$1" "$2" badrep $?
}
cat >bad.yaml <<'YAML'
claims:
  - { id: a, seed: s, title: t, claim: c, colour: red }
YAML
bad "an unknown key" "^bad.yaml:2:43: unknown key 'colour'"
cat >bad.yaml <<'YAML'
claims:
  - id: a
    seed: s
    title: t
    claim: c
    note: "{nothing} here"
YAML
bad "a {name} that is no number" "^bad.yaml:6:12: \\{nothing\\} is none of this claim's numbers"
cat >bad.yaml <<'YAML'
claims:
  - id: a
    seed: s
    title: t
    claim: c
    evidence:
      - scenario: lock_mutex_counter
        expect: [ { metric: no_such_metric } ]
YAML
bad "an expectation the scenario does not have" \
    "^bad.yaml:8:19: claim a: scenario lock_mutex_counter \\(.*\\) has no expectation on no_such_metric"
cat >bad.yaml <<'YAML'
claims:
  - id: a
    seed: s
    title: t
    claim: c
    numbers:
      x: { scenario: lock_mutex_counter, metric: final_count, where: { guard: lock } }
YAML
bad "a number of a sweep point that does not exist" \
    "^bad.yaml:7:79: claim a: scenario lock_mutex_counter sweeps no guard = lock"
cat >bad.yaml <<'YAML'
claims:
  - { id: a, seed: s, title: t, claim: c, verdict: { pass: corrected } }
YAML
bad "a correction without its text" "^bad.yaml:2:52: a claim that holds with a correction"
cat >bad.yaml <<'YAML'
claims:
  - { id: a, seed: s, title: t, claim: c }
  - { id: a, seed: s, title: t, claim: c }
YAML
bad "a claim id used twice" "^bad.yaml:3:11: claim id 'a' is used twice"

# A number on a metric the runs do not have: the report is written, the text says so and
# stderr names the claim, the number and the metric.
cat >bad.yaml <<'YAML'
claims:
  - id: a
    seed: s
    title: t
    claim: c
    verdict: { pass: confirmed }
    numbers:
      x: { scenario: lock_mutex_counter, metric: no_such_metric,
           where: { guard: none, world.cores: 2 } }
    note: "measured {x}"
    evidence: [ { scenario: lock_mutex_counter } ]
YAML
"$bin" report -q --claims bad.yaml --from rep/runs --out numrep >out.txt 2>err.txt
check "a number on a metric the runs lack: named on stderr and in the text" \
    "[ \$? -le 1 ] && grep -q '^distlab report: bad.yaml: claim a: {x}: the runs of lock_mutex_counter have no metric no_such_metric' err.txt &&
     grep -q '^measured (no metric no_such_metric)' numrep/report.md"

finish
