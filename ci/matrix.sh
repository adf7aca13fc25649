#!/usr/bin/env bash
# ci/matrix.sh: the conformance matrix (docs/matrix.md), as CI runs it and as it is refreshed.
#
#   bash ci/matrix.sh          the short version: a few cells with pinned seeds and example
#   bash ci/matrix.sh short    counts, compared cell by cell with the committed
#                              docs/matrix.json; exit 1 when any verdict changed
#   bash ci/matrix.sh full     the whole matrix (about 11 minutes on 2 CPUs): rewrites docs/matrix.md and
#                              docs/matrix.json; commit them
#   bash ci/matrix.sh full-resume    finish an interrupted full run: keep the cells it
#                              finished (same flags, same ackbound), run the rest
#   bash ci/matrix.sh short-update   rerun the short version and record its verdicts
#
# Exit codes are ackbound matrix's: 0 done (and, for short, every verdict as committed),
# 1 a verdict changed, 3 could not run (no Docker engine, missing server binary, used run dir).
#
# Settings (environment variables, all optional):
#   ACKBOUND          the command that runs ackbound (default: ackbound)
#   ACKBOUND_RUN_DIR  where the cells' runs go; must not hold a matrix yet, but for
#                     full-resume (default:
#                     ackbound-runs/matrix for full, as the committed page names it;
#                     ackbound-runs/matrix-short-<time> for short)
# The docker rows need a Docker engine (DOCKER_HOST); the images are built locally first.
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a ACKBOUND <<<"${ACKBOUND:-ackbound}"
ACTION=${1:-short}
STAMP=$(date -u +%Y%m%d-%H%M%S)

case "$ACTION" in
    short)
        exec "${ACKBOUND[@]}" matrix --short --check docs/matrix.json \
            --run-dir "${ACKBOUND_RUN_DIR:-ackbound-runs/matrix-short-$STAMP}"
        ;;
    short-update)
        exec "${ACKBOUND[@]}" matrix --short --out docs/matrix.md \
            --run-dir "${ACKBOUND_RUN_DIR:-ackbound-runs/matrix-short-$STAMP}"
        ;;
    full)
        exec "${ACKBOUND[@]}" matrix --out docs/matrix.md \
            --run-dir "${ACKBOUND_RUN_DIR:-ackbound-runs/matrix}"
        ;;
    full-resume)
        exec "${ACKBOUND[@]}" matrix --out docs/matrix.md --resume \
            --run-dir "${ACKBOUND_RUN_DIR:-ackbound-runs/matrix}"
        ;;
    *)
        echo "matrix.sh: error: unknown action '$ACTION'; use short, short-update, full or full-resume" >&2
        exit 3
        ;;
esac
