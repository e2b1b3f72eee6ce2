#!/usr/bin/env bash
# Quick-start command 1: Warren's main job on the embedded default. Builds, then
# brings up a node made of network namespaces on this machine: pods created by
# the real CNI bridge + host-local plugins with warren-cni chained, warren-agent
# reading a YAML directory, warren-tunnel relaying captured connections. Shows
# what is captured and what is not, then tears everything down.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/demo.sh: run as root (BPF programs, network namespaces)" >&2
  exit 1
fi
bash scripts/build.sh build
BIN=$PWD/build/bin

TAG=wdemo-$$
WORK=/tmp/$TAG
PINS=/sys/fs/bpf/warren-demo-$$
NODE=$TAG-node1
PIDS=()
PODS=()
mkdir -p "$WORK/cluster" "$WORK/run" "$WORK/ipam"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
in_pod() { local ns=$1; shift; nsenter --net=/var/run/netns/"$ns" "$@"; }

cleanup() {
  set +e
  for p in "${PODS[@]}"; do cni del "$p" >/dev/null 2>&1; done
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  "$BIN/warren-agent" --uninstall --bpffs "$PINS" >/dev/null 2>&1
  for p in "${PODS[@]}"; do ip netns del "$TAG-${p//\//-}" 2>/dev/null; done
  ip netns del "$NODE" 2>/dev/null
  rm -rf "$WORK" "$PINS"
  echo
  echo "torn down: namespaces, processes, BPF links and pins removed"
}
trap cleanup EXIT

cat > "$WORK/warren.conflist" <<JSON
{"cniVersion":"1.0.0","name":"warren-demo","plugins":[
 {"type":"bridge","bridge":"wbr0","isGateway":true,"ipMasq":false,
  "ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.1.0/24"}]],"dataDir":"$WORK/ipam"}},
 {"type":"warren-cni","agentSocket":"$WORK/run/cni.sock"}]}
JSON

# cni add|del NS/NAME [IP]: what a container runtime does for a pod sandbox.
cni() {
  local cmd=$1 pod=$2 ip=${3:-}
  local ns=${pod%/*} name=${pod#*/}
  nsenter --net=/var/run/netns/"$NODE" "$BIN/warren-cnirun" "$cmd" --conflist "$WORK/warren.conflist" \
    --netns /var/run/netns/"$TAG-$ns-$name" --container-id "$TAG-$ns-$name" --ifname eth0 \
    --args "IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=$name;K8S_POD_UID=uid-$ns-$name${ip:+;IP=$ip}" \
    --cni-path "/usr/lib/cni:$BIN"
}

add_pod() {
  local ns=$1 name=$2 ip=$3 sa=$4
  cat > "$WORK/cluster/pod-$ns-$name.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $name, namespace: $ns, uid: uid-$ns-$name}
spec: {serviceAccountName: $sa, nodeName: node1}
status: {podIP: $ip}
YAML
  ip netns add "$TAG-$ns-$name"
  ip -n "$TAG-$ns-$name" link set lo up
  PODS+=("$ns/$name")
  cni add "$ns/$name" "$ip" >/dev/null
  echo "pod $ns/$name  ip $ip  (CNI: bridge + host-local + warren-cni)"
}

# start NAME ARGS...: a daemon that signals readiness on a fifo.
start() {
  local name=$1; shift
  local fifo=$WORK/$name.ready
  mkfifo "$fifo"
  "$@" --ready-fd 3 3>"$fifo" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  local line=""
  read -r -t 20 line <"$fifo" || true
  [ "$line" = ready ] || { echo "$name did not start; its log:"; cat "$WORK/$name.log"; exit 1; }
  echo "$name running (pid ${PIDS[-1]}), log $WORK/$name.log"
}

step "cluster state: a YAML directory (the standalone source)"
cat > "$WORK/cluster/namespaces.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: payments
  labels: {warren.io/mode: enabled}
---
apiVersion: v1
kind: Namespace
metadata:
  name: legacy
YAML
echo "namespace payments: warren.io/mode=enabled   namespace legacy: not enabled"

step "node: network namespace $NODE; warren-agent and warren-tunnel"
ip netns add "$NODE"
ip -n "$NODE" link set lo up
start warren-agent "$BIN/warren-agent" --node node1 --config-dir "$WORK/cluster" --bpffs "$PINS" --run-dir "$WORK/run"
start warren-tunnel "$BIN/warren-tunnel" --agent-socket "$WORK/run/zds.sock" --bpffs "$PINS"

step "pods"
add_pod payments checkout 10.244.1.10 checkout
add_pod payments ledger 10.244.1.20 ledger
add_pod legacy batch 10.244.1.30 batch
add_pod legacy reports 10.244.1.40 reports
for p in payments-ledger legacy-reports; do
  in_pod "$TAG-$p" "$BIN/warren-demo-app" serve 8080 >"$WORK/app-$p.log" 2>&1 &
  PIDS+=($!)
done
# The servers print "listening" once bound; wait for that rather than sleeping.
for p in payments-ledger legacy-reports; do
  for _ in $(seq 100); do grep -q listening "$WORK/app-$p.log" 2>/dev/null && break; sleep 0.05; done
done

step "warrenctl prog show  (programs attached at the cgroup root, by pinned bpf_link)"
"$BIN/warrenctl" --bpffs "$PINS" prog show
step "warrenctl pod list  (enrolled pods, decoded from the pinned maps)"
"$BIN/warrenctl" --bpffs "$PINS" pod list

step "1. payments/checkout -> payments/ledger:8080   (captured outbound and inbound)"
in_pod "$TAG-payments-checkout" "$BIN/warren-demo-app" call 10.244.1.20:8080 "charge 42.00 EUR"
step "2. payments/checkout -> legacy/reports:8080    (captured outbound, plain destination)"
in_pod "$TAG-payments-checkout" "$BIN/warren-demo-app" call 10.244.1.40:8080 "monthly totals"
step "3. legacy/batch -> payments/ledger:8080        (plaintext client, captured inbound at ledger)"
in_pod "$TAG-legacy-batch" "$BIN/warren-demo-app" call 10.244.1.20:8080 "nightly sync"
step "4. legacy/batch -> legacy/reports:8080         (neither side enrolled: untouched)"
in_pod "$TAG-legacy-batch" "$BIN/warren-demo-app" call 10.244.1.40:8080 "hello"

step "what the servers saw (the tunnel connects from inside the pod, so a captured client shows up as a mesh pod's IP)"
sed 's/^/ledger:  /' "$WORK/app-payments-ledger.log"
sed 's/^/reports: /' "$WORK/app-legacy-reports.log"

step "the tunnel's access log: one line per connection, with the original destination"
for _ in $(seq 100); do [ "$(grep -c ' access ' "$WORK/warren-tunnel.log")" -ge 5 ] && break; sleep 0.05; done
grep ' access ' "$WORK/warren-tunnel.log" | sed 's/.* access /  /'

step "warrenctl pod list  (per-pod counters now)"
"$BIN/warrenctl" --bpffs "$PINS" pod list

step "fail closed: stop the tunnel, then payments/checkout tries again"
kill "${PIDS[1]}"; wait "${PIDS[1]}" 2>/dev/null || true
in_pod "$TAG-payments-checkout" "$BIN/warren-demo-app" call 10.244.1.40:8080 "must not leave unprotected" || true
"$BIN/warrenctl" --bpffs "$PINS" pod list
