# shellcheck shell=bash
# Shared by lab/edge/{up,down,status}.
EDGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=${LAB_DIR:-$(dirname "$EDGE_DIR")}
REPO=${REPO:-$(dirname "$LAB_DIR")}
LAB_STATE=${LAB_STATE:-$REPO/.lab}
LAB_PYTHON=${LAB_PYTHON:-$REPO/.venv/bin/python}
set -a
# shellcheck source=/dev/null
. "$LAB_DIR/ports.env"
set +a
S=$LAB_STATE/edge
PIDFILE=$S/edge.pid
LOG=$S/edge.log
# Routes (Host -> namespace/Service): EDGE_ROUTES names another JSON file of the same shape.
EDGE_ROUTES=${EDGE_ROUTES:-$EDGE_DIR/routes.json}
EDGE_LATENCY_MS=${EDGE_LATENCY_MS:-5}

say() { echo "lab/edge: $*" >&2; }
die() { say "$*"; exit 1; }

edge_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 0
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "edgeserver.py" && echo "$pid"
  return 0
}
health() { curl -fsS --max-time 3 "http://127.0.0.1:$EDGE_HTTP_PORT/__edge/health"; }

# Run "$@" as a daemon: own session, PID written to $1 first, and no inherited descriptors
# beyond 0-2 (an inherited lock or test-runner pipe would otherwise be held for its lifetime).
# shellcheck disable=SC2016
DAEMON_SH='echo $$ >"$0"; for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$@"'
