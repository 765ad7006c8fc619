# tap.sh - sourced by the test scripts: a work directory that goes away, and TAP lines
# into $tap ("ok N - what" / "not ok N - what" with err.txt, or the file named, as comments).
# The script sets tap, src and bin from its arguments and the build's environment.
tap=$1
src=${DISTLAB_SOURCE_ROOT:?}
bin=${DISTLAB_BUILD_ROOT:?}/lab/distlab
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
cd "$work" || exit 1
n=0
: >"$tap.part"
: >err.txt
ok() { n=$((n + 1)); printf 'ok %d - %s\n' "$n" "$*" >>"$tap.part"; }
not_ok() { # not_ok WHAT [FILE]: FILE (default err.txt) as the line's comments
    n=$((n + 1))
    printf 'not ok %d - %s\n' "$n" "$1" >>"$tap.part"
    f=${2:-$work/err.txt}
    [ -s "$f" ] && sed 's/^/# /' "$f" | head -40 >>"$tap.part"
    echo "FAILED: $1"
    [ -n "${2:-}" ] && [ -s "$f" ] && head -40 "$f"
}
# A check fails too when a sanitizer spoke on the way (the ASan+UBSan build).
sanitized() { grep -qE 'runtime error:|ERROR: (Address|Leak|Undefined)Sanitizer' "$work/err.txt"; }
check() { if eval "$2" && ! sanitized; then ok "$1"; else not_ok "$1"; fi; }
# The exit status of WHAT with PATTERN on its stderr: exit 2 (bad input) and nothing at OUT.
refused_as() { # refused_as WHAT PATTERN OUT RC
    if [ "$4" -eq 2 ] && grep -qE "$2" err.txt && [ ! -e "$3" ]; then
        ok "refused: $1"
    else
        echo "exit $4" >>err.txt
        not_ok "refused: $1"
    fi
}
# Write the TAP file; the script's exit status says whether every line is ok.
finish() {
    { echo "TAP version 13"; echo "1..$n"; cat "$tap.part"; } >"$tap"
    rm -f "$tap.part"
    ! grep -q '^not ok' "$tap"
}
