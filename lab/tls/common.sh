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

# shellcheck source=lab/lib/daemon.sh
. "$here/../lib/daemon.sh"
say() { echo "tls: $*" >&2; }

# pid_alive <daemon>: its PID file ($D/<daemon>.pid) names a running <daemon> process.
pid_alive() { lab_alive "$D/$1.pid" "$1"; }

wait_for() { lab_wait_for "$1" 100 "${@:2}"; }  # what, command...
