# shellcheck shell=bash
# Shared by lab/node/{up,down,status,images}: names, addresses, paths and process handling.
# The node lives in a network namespace the lab creates ($NODE_NETNS), joined to the host by one
# veth pair. The namespace has no default route and the host does not forward, so nothing the
# node or its pods send can leave this machine.
NODE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=${LAB_DIR:-$(dirname "$NODE_DIR")}
REPO=${REPO:-$(dirname "$LAB_DIR")}
LAB_STATE=${LAB_STATE:-$REPO/.lab}
LAB_PYTHON=${LAB_PYTHON:-$REPO/.venv/bin/python}
set -a
# shellcheck source=/dev/null
. "${LAB_PORTS_FILE:-$LAB_DIR/ports.env}"
set +a
S=$LAB_STATE/node
LOGS=$S/logs
K8S_STATE=$LAB_STATE/k8s
KUBECONFIG_PATH=$LAB_STATE/kubeconfig
RUN=/run/fournines-node                 # containerd state, sockets, pod netns mounts
KUBELET_ROOT=/var/lib/fournines-node/kubelet
CONTAINERD_ROOT=/var/lib/fournines-node/containerd
VOLUMES_DIR=/var/lib/fournines-node/volumes      # local PersistentVolumes (StorageClass lab-node-local)
CGROUP_ROOT=fournines-node              # every pod cgroup lives below /sys/fs/cgroup/<ctl>/$CGROUP_ROOT
NODE_NETNS=fournines-node
VETH_HOST=fnode-host
VETH_NODE=fnode-eth0
HOST_IP=10.213.0.1                      # host end of the veth (a /30)
NODE_IP=10.213.0.2                      # the node's InternalIP, inside the namespace
POD_CIDR=10.244.0.0/24
BRIDGE=fnode-br0
SERVICE_CIDR=10.96.0.0/16               # lab/k8s/up --service-cluster-ip-range
DNS_SERVICE_IP=10.96.0.10
APIPROXY_PORT=6443                      # NODE_IP:6443 inside the namespace -> 127.0.0.1:$APISERVER_PORT
# The API server reaches the kubelet by the node's Hostname address first (its default
# --kubelet-preferred-address-types); naming the node by its IP keeps that lookup off DNS.
NODE_NAME=$NODE_IP
CTR_SOCK=$RUN/containerd.sock
NODE_TAINT_KEY=lab.fournines.io/real-node
# Started in this order, stopped in reverse.
PROCS=(apiproxy containerd kubelet kube-proxy coredns)

say() { echo "lab/node: $*" >&2; }
die() { say "$*"; exit 1; }

in_node() { nsenter --net="/run/netns/$NODE_NETNS" -- "$@"; }

proc_exe() {
  case $1 in
    apiproxy) echo "apiproxy.py" ;;
    *) echo "$1" ;;
  esac
}

proc_pid() {
  local name=$1 pid cmd
  pid=$(cat "$S/$name.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  [[ $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) == Z ]] && return 0
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
  [[ $cmd == *"$(proc_exe "$name")"* ]] && echo "$pid"
  return 0
}

# start_proc <name> <netns|host> cmd...: detached, logging to $LOGS/<name>.log.
start_proc() {
  local name=$1 where=$2; shift 2
  mkdir -p "$LOGS"
  echo "--- $(date -u +%FT%TZ) start: $*" >>"$LOGS/$name.log"
  local pre=()
  [ "$where" = netns ] && pre=(nsenter "--net=/run/netns/$NODE_NETNS" --)
  setsid bash -c 'echo $$ >"$0"; shift; exec "$@"' "$S/$name.pid" x "${pre[@]}" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  local i
  for i in $(seq 50); do
    [ -n "$(proc_pid "$name")" ] && return 0
    sleep 0.1
  done
  die "$name did not start; see $LOGS/$name.log"
}

stop_proc() {
  local name=$1 pid i
  pid=$(proc_pid "$name")
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for (( i=0; i<100; i++ )); do
      [ -n "$(proc_pid "$name")" ] || break
      sleep 0.1
    done
    if [ -n "$(proc_pid "$name")" ]; then
      say "$name (pid $pid) still running 10 s after SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$S/$name.pid"
}

kubectl_json() {
  "$LAB_PYTHON" - "$@" <<'PY'
import json, sys
from kubernetes import client, config
config.load_kube_config(sys.argv[1])
print(json.dumps(client.CoreV1Api().read_node(sys.argv[2]).to_dict(), default=str))
PY
}

lock_component() {
  [ -n "${LAB_NODE_LOCKED:-}" ] && return 0
  mkdir -p "$S"
  exec 9>"$S/.lock"
  flock -w 600 9 || die "another lab/node up/down has held $S/.lock for 10 minutes; is one stuck? (see $LOGS)"
  export LAB_NODE_LOCKED=1
}
