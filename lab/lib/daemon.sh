# shellcheck shell=bash
# Process handling shared by the lab components; sourced by lab/<name>/common.sh (or lib.sh).
#
# A component's daemons are known by PID files under .lab/<name>/. A PID counts as ours only
# while /proc shows that process alive (not a zombie) with the expected text in its command
# line, so a PID the kernel gave to something else after a crash is never signalled. Daemons
# start in their own session with nothing inherited beyond stdin/stdout/stderr, and stop with
# SIGTERM, then SIGKILL after a grace period.
#
# Messages go through the component's say() when it has one.

# lab_env <component dir>: what lab/up exports (LAB_DIR, REPO, LAB_STATE, LAB_PYTHON), for a
# component run on its own, and every port of lab/ports.env ($LAB_PORTS_FILE names another
# file for an isolated second instance).
lab_env() {
  LAB_DIR=${LAB_DIR:-$(dirname "$1")}
  REPO=${REPO:-$(dirname "$LAB_DIR")}
  LAB_STATE=${LAB_STATE:-$REPO/.lab}
  LAB_PYTHON=${LAB_PYTHON:-$REPO/.venv/bin/python}
  set -a
  # shellcheck source=/dev/null
  . "${LAB_PORTS_FILE:-$LAB_DIR/ports.env}"
  set +a
}

# lab_pid <pidfile> <text>: the PID in <pidfile> when that process runs and its command line
# contains <text>; nothing otherwise. Always succeeds (use it as "$(lab_pid ...)").
lab_pid() {
  local pid cmd
  pid=$(cat "$1" 2>/dev/null) || return 0
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  # A zombie (exited, not yet reaped) is not running.
  [[ $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) == Z ]] && return 0
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
  [[ $cmd == *"$2"* ]] && echo "$pid"
  return 0
}

# lab_alive <pidfile> <text>: 0 when lab_pid finds the process.
lab_alive() { [ -n "$(lab_pid "$1" "$2")" ]; }

# lab_daemon <pidfile> <log> cmd...: run cmd in the background as a daemon of its own session,
# appending its output to <log>. The child writes its own PID to <pidfile> before it execs, so
# the file names the real process; every descriptor above 2 is closed first (an inherited lock
# or a test runner's pipe would otherwise be held for the daemon's lifetime). Returns at once:
# the caller waits for whatever "started" means for that daemon.
lab_daemon() {
  local pidfile=$1 log=$2
  shift 2
  # shellcheck disable=SC2016
  setsid bash -c 'echo $$ >"$0"; for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$@"' \
    "$pidfile" "$@" >>"$log" 2>&1 </dev/null &
}

# lab_wait_pid <pidfile> <text> [tenths]: 0 once lab_pid finds the process (default 5 s), else 1.
lab_wait_pid() {
  local i
  for (( i=0; i<${3:-50}; i++ )); do
    lab_alive "$1" "$2" && return 0
    sleep 0.1
  done
  return 1
}

# lab_stop <pidfile> <text> [grace tenths] [name]: SIGTERM, wait up to the grace period
# (default 10 s), then SIGKILL; the PID file is removed in every case. Nothing is signalled
# unless lab_pid names the process.
lab_stop() {
  local pidfile=$1 text=$2 grace=${3:-100} name=${4:-$2} pid i
  pid=$(lab_pid "$pidfile" "$text")
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for (( i=0; i<grace; i++ )); do
      lab_alive "$pidfile" "$text" || break
      sleep 0.1
    done
    if lab_alive "$pidfile" "$text"; then
      if declare -F say >/dev/null; then
        say "$name (pid $pid) still running $((grace / 10)) s after SIGTERM; killing it"
      fi
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$pidfile"
}

# lab_wait_for <what> <tenths> cmd...: run cmd (quietly) every 0.1 s until it succeeds; after
# <tenths> tries say "<what> did not come up" and return 1.
lab_wait_for() {
  local what=$1 tries=$2 i
  shift 2
  for (( i=0; i<tries; i++ )); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  if declare -F say >/dev/null; then say "$what did not come up"; else echo "$what did not come up" >&2; fi
  return 1
}

# lab_port_busy <port>: 0 when something accepts connections on 127.0.0.1:<port>.
lab_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
