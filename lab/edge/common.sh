# shellcheck shell=bash
# Shared by lab/edge/{up,down,status}.
EDGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab/lib/daemon.sh
. "$EDGE_DIR/../lib/daemon.sh"
lab_env "$EDGE_DIR"
S=$LAB_STATE/edge
PIDFILE=$S/edge.pid
LOG=$S/edge.log
# Routes (Host -> namespace/Service): EDGE_ROUTES names another JSON file of the same shape.
EDGE_ROUTES=${EDGE_ROUTES:-$EDGE_DIR/routes.json}
EDGE_LATENCY_MS=${EDGE_LATENCY_MS:-5}

say() { echo "lab/edge: $*" >&2; }
die() { say "$*"; exit 1; }

# PID of our running edge server, or nothing.
edge_pid() { lab_pid "$PIDFILE" edgeserver.py; }
health() { curl -fsS --max-time 3 "http://127.0.0.1:$EDGE_HTTP_PORT/__edge/health"; }
