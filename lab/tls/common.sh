# Shared by lab/tls/{up,down,status,reset-renew}: paths and ports. Sourced, not executed.
# Works when called by lab/up (which exports REPO, LAB_STATE, ports) and when run by hand.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=${REPO:-$(cd "$here/../.." && pwd)}
LAB_STATE=${LAB_STATE:-$REPO/.lab}
LAB_PYTHON=${LAB_PYTHON:-$REPO/.venv/bin/python}
if [ -z "${TLS_ENDPOINTS_PORT:-}" ] || [ -z "${TLS_HTTP_PORT:-}" ] || [ -z "${PEBBLE_PORT:-}" ]; then
  set -a; . "$REPO/lab/ports.env"; set +a
fi
D=$LAB_STATE/tls
NGINX_CONF=$D/nginx/nginx.conf
PEBBLE_DIR_URL=https://127.0.0.1:$PEBBLE_PORT/dir
# name of each daemon (= its pid file under $D), in start order
DAEMONS="nginx pebble"

pid_alive() { [ -f "$D/$1.pid" ] && kill -0 "$(cat "$D/$1.pid")" 2>/dev/null; }

wait_for() {  # what, command...
  local what=$1; shift
  for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "tls: $what did not come up" >&2; return 1
}
