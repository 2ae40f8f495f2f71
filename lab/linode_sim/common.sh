# shellcheck shell=bash
# Shared by lab/linode_sim/{up,down,status}. Works under lab/up (which exports REPO,
# LAB_STATE, LAB_PYTHON and the ports) and on its own.
SIM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab/lib/daemon.sh
. "$SIM_DIR/../lib/daemon.sh"
lab_env "$SIM_DIR"
S=$LAB_STATE/linode_sim
PIDFILE=$S/sim.pid
LOG=$S/sim.log
# A fixed, lab-only token (not a secret: the simulator only listens on 127.0.0.1).
LINODE_SIM_TOKEN=lab-only-linode-sim-token
LKE_CLUSTER_ID=314159
ADMIN_URL=http://127.0.0.1:$LINODE_SIM_PORT/__admin

say() { echo "lab/linode_sim: $*" >&2; }
die() { say "$*"; exit 1; }

# PID of our running simulator, or nothing.
sim_pid() { lab_pid "$PIDFILE" "-m linodesim"; }

admin() { curl -fsS --max-time 5 "$@"; }
