# Shared by lab/dns/{up,down,status,lag}: paths, ports and the lab-only fixed credentials.
# Sourced, not executed. Works when called by lab/up (which exports REPO, LAB_STATE, ports)
# and when run by hand.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=${REPO:-$(cd "$here/../.." && pwd)}
LAB_STATE=${LAB_STATE:-$REPO/.lab}
LAB_PROFILE=${LAB_PROFILE:-$(cat "$LAB_STATE/profile" 2>/dev/null || echo fast)}
LAB_PYTHON=${LAB_PYTHON:-$REPO/.venv/bin/python}
if [ -z "${DNS_PRIMARY_PORT:-}" ] || [ -z "${PDNS_API_PORT:-}" ]; then
  set -a; . "$REPO/lab/ports.env"; set +a
fi
D=$LAB_STATE/dns
ZONE=lab.example
# Lab-only fixed values (never real secrets); clients still pass them through no_log options.
TSIG_NAME=lab-tsig
TSIG_ALG=hmac-sha256
TSIG_SECRET=Zm91cm5pbmVzLWxhYi10c2lnLWtleS1ub3Qtc2VjcmV0IQ==
PDNS_API_KEY=lab-pdns-api-key
# name pid-file for each daemon, in start order
DAEMONS="pdns knot unbound"

# shellcheck source=lab/lib/daemon.sh
. "$here/../lib/daemon.sh"
say() { echo "dns: $*" >&2; }

# pid_alive <daemon>: its PID file ($D/<daemon>.pid) names a running <daemon> process.
pid_alive() { lab_alive "$D/$1.pid" "$1"; }
