# shellcheck shell=bash
# Shared by lab/node/{up,down,status,images}: names, addresses, paths and process handling.
# The node lives in a network namespace the lab creates ($NODE_NETNS), joined to the host by one
# veth pair. The namespace has no default route and the host does not forward, so nothing the
# node or its pods send can leave this machine.
NODE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab/lib/daemon.sh
. "$NODE_DIR/../lib/daemon.sh"
lab_env "$NODE_DIR"
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

# proc_pid <name>: the PID of our running <name> (lab_pid: checked against /proc), or nothing.
proc_pid() { lab_pid "$S/$1.pid" "$(proc_exe "$1")"; }

# start_proc <name> <netns|host> cmd...: detached (lab_daemon), logging to $LOGS/<name>.log.
start_proc() {
  local name=$1 where=$2; shift 2
  mkdir -p "$LOGS"
  echo "--- $(date -u +%FT%TZ) start: $*" >>"$LOGS/$name.log"
  local pre=()
  [ "$where" = netns ] && pre=(nsenter "--net=/run/netns/$NODE_NETNS" --)
  lab_daemon "$S/$name.pid" "$LOGS/$name.log" "${pre[@]}" "$@"
  lab_wait_pid "$S/$name.pid" "$(proc_exe "$name")" 50 || die "$name did not start; see $LOGS/$name.log"
}

# stop_proc <name>: SIGTERM, SIGKILL after 10 s (lab_stop); the PID file goes in every case.
stop_proc() { lab_stop "$S/$1.pid" "$(proc_exe "$1")" 100 "$1"; }

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
