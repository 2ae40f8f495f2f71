# shellcheck shell=bash
# Shared by lab/linode_sim/{up,down,status}. Works under lab/up (which exports REPO,
# LAB_STATE, LAB_PYTHON and the ports) and on its own.
SIM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=${LAB_DIR:-$(dirname "$SIM_DIR")}
REPO=${REPO:-$(dirname "$LAB_DIR")}
LAB_STATE=${LAB_STATE:-$REPO/.lab}
LAB_PYTHON=${LAB_PYTHON:-$REPO/.venv/bin/python}
set -a
# shellcheck source=/dev/null
. "$LAB_DIR/ports.env"
set +a
S=$LAB_STATE/linode_sim
PIDFILE=$S/sim.pid
LOG=$S/sim.log
# A fixed, lab-only token (not a secret: the simulator only listens on 127.0.0.1).
LINODE_SIM_TOKEN=lab-only-linode-sim-token
LKE_CLUSTER_ID=314159
ADMIN_URL=http://127.0.0.1:$LINODE_SIM_PORT/__admin

say() { echo "lab/linode_sim: $*" >&2; }
die() { say "$*"; exit 1; }

# PID of our running simulator, or nothing (the cmdline check guards against PID reuse).
sim_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 0
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-m linodesim" && echo "$pid"
  return 0
}

admin() { curl -fsS --max-time 5 "$@"; }

# Run "$@" as a daemon: own session, PID written to $1 first, and no inherited descriptors
# beyond 0-2 (an inherited lock or test-runner pipe would otherwise be held for its lifetime).
# shellcheck disable=SC2016
DAEMON_SH='echo $$ >"$0"; for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$@"'
