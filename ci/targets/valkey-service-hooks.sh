#!/usr/bin/env bash
# Operator hooks for ci/targets/valkey-service.toml: a Valkey cluster in CI service
# containers, driven with the docker CLI. This is what a managed service's CLI does for an
# external target; ackbound runs one hook per fault and trusts it to do what its name says.
#
# Usage: valkey-service-hooks.sh init
#        valkey-service-hooks.sh kill|restart|wipe-restart|pause|resume|promote NODE
#
#   init          configure every node and make the others replicas of the first (n1)
#   kill          SIGKILL the node's container
#   restart       start it again; it rejoins as a replica of the current primary
#   wipe-restart  start it again empty; it rejoins as a replica of the current primary
#   pause/resume  freeze/unfreeze the container; a resumed old primary rejoins as a replica
#   promote       make the node the primary and point every running node at it
#
# Environment:
#   ACKBOUND_SERVICE_<node>       the node's container id (GitHub: ${{ job.services.n1.id }})
#   ACKBOUND_SERVICE_ADDR_<node>  "HOST PORT" where the other containers reach the node
#                                 (default: "<node> 6379", its service name on the job network)
#   ACKBOUND_SERVICE_NODES        the nodes, primary first (default: "n1 n2 n3")
#   ACKBOUND_SERVICE_STATE        file remembering the current primary
#                                 (default: $RUNNER_TEMP/ackbound-service-primary)
set -euo pipefail

read -r -a NODES <<<"${ACKBOUND_SERVICE_NODES:-n1 n2 n3}"
STATE=${ACKBOUND_SERVICE_STATE:-${RUNNER_TEMP:-/tmp}/ackbound-service-primary}
ME="valkey-service-hooks.sh"

fail() {
    printf '%s: error: %s\n' "$ME" "$1" >&2
    exit 1
}

container() {
    local var="ACKBOUND_SERVICE_$1"
    [ -n "${!var:-}" ] || fail "no container for node $1: $var is not set; fix: set it to the container id (GitHub: \${{ job.services.$1.id }})"
    printf '%s' "${!var}"
}

address() {
    local var="ACKBOUND_SERVICE_ADDR_$1"
    printf '%s' "${!var:-$1 6379}"
}

cli() {
    local node=$1
    shift
    docker exec "$(container "$node")" valkey-cli "$@"
}

primary() {
    if [ -s "$STATE" ]; then cat "$STATE"; else printf '%s' "${NODES[0]}"; fi
}

running() { # up and not paused
    [ "$(docker inspect -f '{{.State.Running}} {{.State.Paused}}' "$(container "$1")")" = "true false" ]
}

wait_ready() {
    local _
    for _ in $(seq 1 200); do
        [ "$(cli "$1" PING 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    fail "node $1 did not answer PING within 20 s after starting; fix: check its container log"
}

# No persistence (a restart comes back empty, as the target file says) and replication
# without temporary files. A restarted container has the image's defaults again.
configure() {
    cli "$1" CONFIG SET save "" appendonly no repl-diskless-sync yes \
        repl-diskless-sync-delay 0 repl-diskless-load swapdb >/dev/null
}

# Point the node at the current primary, unless it is the primary.
follow() {
    local node=$1 host port current
    current=$(primary)
    if [ "$node" = "$current" ]; then
        cli "$node" REPLICAOF NO ONE >/dev/null
        return 0
    fi
    read -r host port <<<"$(address "$current")"
    cli "$node" REPLICAOF "$host" "$port" >/dev/null
}

start() {
    docker start "$(container "$1")" >/dev/null
    wait_ready "$1"
    configure "$1"
}

action=${1:-}
node=${2:-}
case "$action" in
init)
    rm -f "$STATE"
    for n in "${NODES[@]}"; do
        wait_ready "$n"
        configure "$n"
        follow "$n"
    done
    ;;
kill)
    # (an engine that refuses to kill a paused container gets it unpaused first)
    docker kill "$(container "$node")" >/dev/null 2>&1 ||
        { docker unpause "$(container "$node")" >/dev/null && docker kill "$(container "$node")" >/dev/null; }
    ;;
restart)
    start "$node"
    follow "$node"
    ;;
wipe-restart)
    if running "$node"; then docker kill "$(container "$node")" >/dev/null; fi
    start "$node"
    cli "$node" FLUSHALL >/dev/null
    follow "$node"
    ;;
pause)
    docker pause "$(container "$node")" >/dev/null
    ;;
resume)
    docker unpause "$(container "$node")" >/dev/null
    follow "$node"
    ;;
promote)
    printf '%s' "$node" >"$STATE"
    follow "$node"
    for n in "${NODES[@]}"; do
        if [ "$n" != "$node" ] && running "$n"; then follow "$n"; fi
    done
    ;;
*)
    fail "unknown action '${action}'; use init, kill, restart, wipe-restart, pause, resume or promote"
    ;;
esac
