# shellcheck shell=bash
# Shared by lab/k8s/{up,down,status}: paths, the process table and PID-file handling.
# Works when called by lab/up (which exports REPO, LAB_STATE, ports ...) and on its own.

K8S_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=${LAB_DIR:-$(dirname "$K8S_DIR")}
REPO=${REPO:-$(dirname "$LAB_DIR")}
LAB_STATE=${LAB_STATE:-$REPO/.lab}
LAB_PYTHON=${LAB_PYTHON:-$REPO/.venv/bin/python}
if [ -z "${LAB_PROFILE:-}" ]; then
  LAB_PROFILE=$(cat "$LAB_STATE/profile" 2>/dev/null || echo fast)
fi
# LAB_PORTS_FILE lets a test run a second, isolated instance on other ports.
set -a
# shellcheck source=/dev/null
. "${LAB_PORTS_FILE:-$LAB_DIR/ports.env}"
set +a
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
proc_pid() {
  local name=$1 pid cmd
  pid=$(cat "$S/$name.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  # A zombie (exited, not yet reaped) is not running.
  [[ $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) == Z ]] && return 0
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
  [[ $cmd == *"$(proc_exe "$name")"* ]] && echo "$pid"
  return 0
}

# Start one process detached from our session, logging to $LOGS/<name>.log; the child writes
# its own PID before exec so the PID file names the real process.
start_proc() {
  local name=$1; shift
  mkdir -p "$LOGS"
  echo "--- $(date -u +%FT%TZ) start: $*" >>"$LOGS/$name.log"
  # 9>&-: the daemon must not inherit lock_component's lock, or every later up/down waits on it.
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$S/$name.pid" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  local i
  for i in $(seq 50); do
    [ -n "$(proc_pid "$name")" ] && return 0
    sleep 0.1
  done
  die "$name did not start; see $LOGS/$name.log"
}

# Stop one process: TERM, then KILL after a grace period. Removes its PID file.
# The API server drains its long-running requests for up to a minute; nothing it holds is not
# already in etcd, so 5 s is plenty in the lab.
stop_proc() {
  local name=$1 pid i grace=150
  [ "$name" = kube-apiserver ] && grace=50
  pid=$(proc_pid "$name")
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for (( i=0; i<grace; i++ )); do
      kill -0 "$pid" 2>/dev/null || break
      [ -n "$(proc_pid "$name")" ] || break
      sleep 0.1
    done
    if [ -n "$(proc_pid "$name")" ]; then
      say "$name (pid $pid) still running $((grace / 10)) s after SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$S/$name.pid"
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
