#!/usr/bin/env bash
# How long a cold `make demo` takes, without touching anyone's caches or the shared lab's state.
#
#   benchmarks/cold_demo.sh [--worktree] [--warm-run | --warm-only] [--keep]
#
# 1. Build part, cold: a fresh clone of this checkout in a scratch folder, with HOME, GOCACHE,
#    GOMODCACHE, GOPATH, PIP_CACHE_DIR, XDG_CACHE_HOME and FOURNINES_LAB_CACHE (the lab's build
#    cache, lab/build/build-k8s) all pointed at new empty folders, runs what `make demo` runs before
#    `lab/up`: `lab/install-deps <the demo's components>`, then `make -j2 venv lab-binaries` (the
#    venv and the Go build side by side). Only the apt part cannot be cold: packages already
#    installed are not removed, so it is a no-op on a machine that has them (said in the figures).
#    --worktree copies the working tree's version of the tracked files into the clone (to measure
#    uncommitted changes); default: the committed HEAD. COLD_DEMO_PATCH=<file> applies a patch (git
#    diff format, paths from the repo root) to the clone first: a change measured before it lands.
# 2. --warm-run: the rest of `make demo` on the shared, already running lab of this checkout:
#    `lab/up k8s linode_sim edge` (idempotent) and `ansible-playbook playbooks/upgrade-cluster.yml`
#    with its reports and downtime ledger in the scratch folder, holding
#    .lab/linode_sim/upgrade-cluster-tests.lock as the upgrade tests do. It does not start a second
#    lab (the ports are fixed) and never changes LAB_PROFILE: the profile the lab runs is printed.
#    --warm-only: this part alone (no clone, no build).
#
# Prints one line per figure (seconds) plus `uptime` before and after each part: other work on the
# machine shows in the load average, and the CPU seconds of the build are the fairer comparison.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
worktree=0 warm=0 keep=0
for a in "$@"; do
  case $a in
    --worktree) worktree=1 ;;
    --warm-run) warm=1 ;;
    --warm-only) warm=2 ;;
    --keep) keep=1 ;;
    *) echo "cold_demo.sh: unknown argument '$a'; valid: --worktree --warm-run --warm-only --keep" >&2; exit 2 ;;
  esac
done
scratch=$(mktemp -d /tmp/fournines-cold-demo.XXXXXX)
[ $keep = 1 ] || trap 'chmod -R u+w "$scratch" 2>/dev/null; rm -rf "$scratch"' EXIT
log=$scratch/log
mkdir -p "$scratch"/{home,gocache,gomodcache,gopath,pipcache,labcache,xdgcache,reports}
say() { echo "cold_demo: $*"; }
load() { uptime | sed 's/.*load average/load average/'; }

total=0
if [ $warm != 2 ]; then
say "scratch $scratch ($(nproc) cores, $(go version 2>/dev/null | awk '{print $3}'), $(python3 --version))"
git clone -q --no-hardlinks "$repo" "$scratch/repo"
if [ $worktree = 1 ]; then
  (cd "$repo" && git ls-files -z | rsync -a --from0 --files-from=- ./ "$scratch/repo/")
  say "clone of the working tree (tracked files as they are now)"
else
  say "clone of HEAD $(git -C "$repo" rev-parse --short HEAD)"
fi
if [ -n "${COLD_DEMO_PATCH:-}" ]; then
  git -C "$scratch/repo" apply "$(realpath "$COLD_DEMO_PATCH")"
  say "with $COLD_DEMO_PATCH applied ($(git -C "$scratch/repo" diff --stat | tail -1))"
fi

cold_env=(env -u GOFLAGS -u VIRTUAL_ENV HOME="$scratch/home" GOCACHE="$scratch/gocache"
  GOMODCACHE="$scratch/gomodcache" GOPATH="$scratch/gopath" PIP_CACHE_DIR="$scratch/pipcache"
  XDG_CACHE_HOME="$scratch/xdgcache" FOURNINES_LAB_CACHE="$scratch/labcache")

cd "$scratch/repo"
say "before the build: $(load)"
t0=$(date +%s.%N)
# The apt step of the demo target (lab/install-deps with the demo's components).
demo_components=$(sed -n 's/^DEMO_COMPONENTS := //p' Makefile)
"${cold_env[@]}" lab/install-deps $demo_components >"$log.deps" 2>&1
t1=$(date +%s.%N)
# Exactly the line of the Makefile's demo target; /usr/bin/time-like CPU figures from bash's times.
"${cold_env[@]}" bash -c 'make --no-print-directory -j2 venv lab-binaries; times' >"$log.build" 2>&1 || {
  tail -30 "$log.build" >&2; say "the build failed (log above)"; exit 1; }
t2=$(date +%s.%N)
venv_done=$(stat -c %Y .venv/.installed)
cpu=$(tail -1 "$log.build" | awk '{ s = 0; for (i = 1; i <= NF; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] } print int(s) }')
parts=$(grep -o 'build-k8s: built.*' "$log.build" | sed 's/; GOCACHE.*/)/' || true)
say "after the build: $(load)"
deps_s=$(printf '%.0f' "$(echo "$t1 - $t0" | bc)")
build_s=$(printf '%.0f' "$(echo "$t2 - $t1" | bc)")
venv_s=$(( venv_done - ${t1%.*} ))
say "lab/install-deps $demo_components: ${deps_s}s (apt packages already installed here: not a cold figure)"
say "make -j2 venv lab-binaries: ${build_s}s wall, ${cpu}s CPU of the children"
say "  venv ready after ${venv_s}s; ${parts:-build-k8s printed no timing line}"
say "  binaries: $(du -sh "$scratch/labcache" | cut -f1) in the lab cache, go build cache $(du -sh "$scratch/gocache" | cut -f1), modules $(du -sh "$scratch/gomodcache" | cut -f1)"
total=$(( deps_s + build_s ))
fi

if [ $warm != 0 ]; then
  cd "$repo"
  [ -f /tmp/lab-ready ] || [ -n "${COLD_DEMO_LAB_FREE:-}" ] || {
    say "--warm-run: /tmp/lab-ready is missing (the shared lab is busy); skipped"; exit 0; }
  say "warm part on the shared lab, profile $(cat .lab/profile 2>/dev/null || echo fast): $(load)"
  # Whether the lab's Kubernetes ran before: a start from stopped is the figure a new user sees.
  if lab/status 2>/dev/null | grep -q 'kube-apiserver *running'; then before=running; else before=stopped; fi
  t3=$(date +%s.%N)
  lab/up k8s linode_sim edge >"$log.up" 2>&1 || { tail -20 "$log.up" >&2; exit 1; }
  t4=$(date +%s.%N)
  extra=$(printf '{"cluster_preflight_reports_dir": "%s", "cluster_preflight_slo": {"ledger": "%s/downtime.jsonl", "objective": 99.99, "window": "30d"}}' \
    "$scratch/reports" "$scratch/reports")
  lockfile=.lab/linode_sim/upgrade-cluster-tests.lock
  say "waiting for $lockfile"
  t5=$(flock "$lockfile" bash -c 'date +%s.%N; ANSIBLE_NOCOLOR=1 .venv/bin/ansible-playbook playbooks/upgrade-cluster.yml -e "$1" >"$2" 2>&1; echo $? >"$2.rc"; date +%s.%N' _ "$extra" "$log.run" | tr '\n' ' ')
  rc=$(cat "$log.run.rc")
  read -r t5a t5b <<<"$t5"
  up_s=$(printf '%.0f' "$(echo "$t4 - $t3" | bc)")
  run_s=$(printf '%.0f' "$(echo "$t5b - $t5a" | bc)")
  say "lab/up k8s linode_sim edge (the lab was $before before): ${up_s}s"
  say "ansible-playbook playbooks/upgrade-cluster.yml: ${run_s}s, exit $rc ($(grep -o 'ok=[0-9]* *changed=[0-9]*.*failed=[0-9]*' "$log.run" | head -1))"
  say "after the run: $(load)"
  [ "$rc" = 0 ] || { tail -20 "$log.run" >&2; }
  total=$(( total + up_s + run_s ))
  [ $warm = 2 ] || say "cold make demo, build part cold + warm lab part: ${total}s ($(( total / 60 )) min $(( total % 60 )) s), plus a cold lab/up's first start of the processes"
else
  say "build part of a cold make demo: ${total}s ($(( total / 60 )) min $(( total % 60 )) s); --warm-run adds the lab part"
fi
