# shellcheck shell=bash
# Shared by lab/k8s/{up,down,status}: paths, the process table and PID-file handling.
# Works when called by lab/up (which exports REPO, LAB_STATE, ports ...) and on its own.

K8S_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab/lib/daemon.sh
. "$K8S_DIR/../lib/daemon.sh"
# LAB_PORTS_FILE lets a test run a second, isolated instance on other ports.
lab_env "$K8S_DIR"
if [ -z "${LAB_PROFILE:-}" ]; then
  LAB_PROFILE=$(cat "$LAB_STATE/profile" 2>/dev/null || echo fast)
fi
S=$LAB_STATE/k8s
LOGS=$S/logs
KUBECONFIG_PATH=$LAB_STATE/kubeconfig
# Started in this order, stopped in reverse.
PROCS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok volumes)

say() { echo "lab/k8s: $*" >&2; }
die() { say "$*"; exit 1; }

# The executable a process name runs as (checked against /proc/<pid>/cmdline so a recycled
# PID is never mistaken for ours).
proc_exe() {
  case $1 in
    volumes) echo "volumes.py" ;;
    *) echo "$1" ;;
  esac
}

# PID of a running process of ours, or nothing.
proc_pid() { lab_pid "$S/$1.pid" "$(proc_exe "$1")"; }

# Start one process detached from our session, logging to $LOGS/<name>.log; the PID file names
# the real process and the daemon inherits no descriptor (not lock_component's lock either, or
# every later up/down would wait on it).
start_proc() {
  local name=$1; shift
  mkdir -p "$LOGS"
  echo "--- $(date -u +%FT%TZ) start: $*" >>"$LOGS/$name.log"
  lab_daemon "$S/$name.pid" "$LOGS/$name.log" "$@"
  lab_wait_pid "$S/$name.pid" "$(proc_exe "$name")" 50 || die "$name did not start; see $LOGS/$name.log"
}

# Stop one process: TERM, then KILL after a grace period. Removes its PID file.
# The API server drains its long-running requests for up to a minute; nothing it holds is not
# already in etcd, so 5 s is plenty in the lab.
stop_proc() {
  local grace=150
  [ "$1" = kube-apiserver ] && grace=50
  lab_stop "$S/$1.pid" "$(proc_exe "$1")" "$grace" "$1"
}

# Who listens on a TCP port (for error messages); empty when unknown.
port_owner() {
  command -v ss >/dev/null || return 0
  ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -1
}

# 0 when 127.0.0.1:<port> can be bound.
port_free() {
  python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# Resolved values of the active time profile as KEY=VALUE lines (from profiles.env).
profile_values() {
  awk -v p="$1" '
    /^[[:space:]]*#/ || NF < 3 { next }
    { col = (p == "fast") ? 2 : (p == "production") ? 3 : 0; if (col) print $1 "=" $col }
  ' "$K8S_DIR/profiles.env"
}

# curl against the API server with the admin client certificate.
api_get() {
  curl -fsS --max-time 5 --cacert "$S/pki/ca.crt" --cert "$S/pki/admin.crt" --key "$S/pki/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT$1"
}

# One lab/k8s up/down at a time (tests and people call lab/up concurrently): later callers wait
# for the first, then find the component running. up calls down while holding the lock.
lock_component() {
  [ -n "${LAB_K8S_LOCKED:-}" ] && return 0
  mkdir -p "$S"
  exec 9>"$S/.lock"
  if ! flock -w 600 9; then
    die "another lab/k8s up/down has held $S/.lock for 10 minutes; is one stuck? (see $LOGS)"
  fi
  export LAB_K8S_LOCKED=1
}
