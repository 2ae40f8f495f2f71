# shellcheck shell=bash
# Shared by lab/up, lab/down and lab/status: the environment every component gets (see
# CONTRIBUTING.md, "The lab") and the loop over lab/components.
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$LAB_DIR")
LAB_STATE=$REPO/.lab
LAB_PYTHON=${LAB_PYTHON:-$REPO/.venv/bin/python}
mkdir -p "$LAB_STATE"
# The profile: asked for ($LAB_PROFILE), else the one remembered from the last lab/up, else fast.
LAB_PROFILE=${LAB_PROFILE:-$(cat "$LAB_STATE/profile" 2>/dev/null || echo fast)}
case $LAB_PROFILE in
  fast|production) ;;
  *) echo "lab: LAB_PROFILE=$LAB_PROFILE is not a profile; use fast (tests) or production (demo timings)" >&2; exit 2 ;;
esac
export REPO LAB_DIR LAB_STATE LAB_PROFILE LAB_PYTHON
set -a
# shellcheck source=lab/ports.env
. "$LAB_DIR/ports.env"
set +a

mapfile -t ALL_COMPONENTS < <(sed -e 's/#.*//' -e '/^\s*$/d' -e 's/\s//g' "$LAB_DIR/components")

# check_components <args...>: exit 2 naming the valid ones when an argument is not a component.
check_components() {
  local c k known
  for c in "$@"; do
    known=0
    for k in "${ALL_COMPONENTS[@]}"; do [ "$k" = "$c" ] && known=1; done
    [ $known = 1 ] || { echo "lab: unknown component '$c'; known: ${ALL_COMPONENTS[*]}" >&2; exit 2; }
  done
}

# components <args...>: the ones asked for or all, in lab/components order.
components() {
  local c k
  if [ $# -eq 0 ]; then printf '%s\n' "${ALL_COMPONENTS[@]}"; return; fi
  for k in "${ALL_COMPONENTS[@]}"; do
    for c in "$@"; do [ "$k" = "$c" ] && echo "$k"; done
  done
}

# present <component>: 0 when lab/<component>/<action> exists, else a note and 1.
present() {
  if [ ! -x "$LAB_DIR/$1/$2" ]; then
    echo "lab: $1: skipped (lab/$1/$2 does not exist yet)" >&2
    return 1
  fi
}
