#!/usr/bin/env bash
# Quick-start command 1: Warren's main job on the embedded default. Builds, then
# brings up a two-node cluster made of network namespaces on this machine:
#
#   node1 netns                                                 node2 netns
#   payments/checkout   10.244.1.10 -+                         +- payments/ledger 10.244.2.20
#   payments/fraud-scan 10.244.1.11 -+- wbr0  u1 ==veth== u2  wbr0 -+- legacy/reports 10.244.2.40
#   legacy/batch        10.244.1.30 -+
#   payments/waypoint   10.244.1.50 -+  (step 5: warren-waypoint, the L7 proxy)
#                                       10.99.0.1   10.99.0.2
#
# Pods are made by the real CNI bridge + host-local plugins with warren-cni
# chained; each node runs warren-agent and warren-tunnel on one shared YAML
# directory (the standalone source) and one local CA. It sends real traffic,
# shows with tcpdump on the underlay that mesh traffic crosses only as TLS 1.3,
# shows the tunnels' decisions, applies an Istio AuthorizationPolicy and shows an
# allowed and a denied connection with their metrics, then tears everything down.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/demo.sh: run as root (BPF programs, network namespaces)" >&2
  exit 1
fi
bash scripts/install-deps.sh
bash scripts/mount-bpffs.sh
bash scripts/build.sh build
BIN=$PWD/build/bin

TAG=wdemo-$$
WORK=/tmp/$TAG
PIDS=()
PODS=()  # "node ns/name"
mkdir -p "$WORK/cluster" "$WORK/ca"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
in_pod() { local ns=$1; shift; nsenter --net=/var/run/netns/"$TAG-$ns" "$@"; }
node_ns() { echo "$TAG-$1"; }
pins() { echo "/sys/fs/bpf/warren-demo-$$-$1"; }

cleanup() {
  set +e
  for p in "${PODS[@]}"; do cni "${p% *}" del "${p#* }" >/dev/null 2>&1; done
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  for n in node1 node2; do
    "$BIN/warren-agent" --uninstall --bpffs "$(pins $n)" >/dev/null 2>&1
    rm -rf "$(pins $n)"
  done
  for p in "${PODS[@]}"; do local pod=${p#* }; ip netns del "$TAG-${pod//\//-}" 2>/dev/null; done
  ip netns del "$(node_ns node1)" 2>/dev/null
  ip netns del "$(node_ns node2)" 2>/dev/null
  rm -rf "$WORK"
  echo
  echo "torn down: namespaces, processes, BPF links and pins removed"
}
trap cleanup EXIT

# cni NODE add|del NS/NAME [IP]: what a container runtime does for a pod sandbox.
cni() {
  local node=$1 cmd=$2 pod=$3 ip=${4:-}
  local ns=${pod%/*} name=${pod#*/}
  nsenter --net=/var/run/netns/"$(node_ns "$node")" "$BIN/warren-cnirun" "$cmd" --conflist "$WORK/$node.conflist" \
    --netns /var/run/netns/"$TAG-$ns-$name" --container-id "$TAG-$ns-$name" --ifname eth0 \
    --args "IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=$name;K8S_POD_UID=uid-$ns-$name${ip:+;IP=$ip}" \
    --cni-path "/usr/lib/cni:$BIN"
}

add_pod() {
  local node=$1 ns=$2 name=$3 ip=$4 sa=$5 labels=${6:-}
  cat > "$WORK/cluster/pod-$ns-$name.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $name, namespace: $ns, uid: uid-$ns-$name, labels: {$labels}}
spec: {serviceAccountName: $sa, nodeName: $node}
status: {podIP: $ip}
YAML
  ip netns add "$TAG-$ns-$name"
  ip -n "$TAG-$ns-$name" link set lo up
  PODS+=("$node $ns/$name")
  cni "$node" add "$ns/$name" "$ip" >/dev/null
  echo "$node: pod $ns/$name  ip $ip  service account $sa"
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

# wait_log FILE PATTERN: a daemon's own line saying it got there.
wait_log() {
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "timed out waiting for '$2' in $1"; exit 1
}

step "cluster state: one YAML directory both nodes read (the standalone source)"
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

step "two nodes: network namespaces joined by a veth underlay"
ip netns add "$(node_ns node1)"
ip netns add "$(node_ns node2)"
ip link add wd$$u1 netns "$(node_ns node1)" type veth peer name wd$$u2 netns "$(node_ns node2)"
for i in 1 2; do
  n=node$i o=$((3 - i))
  ip -n "$(node_ns $n)" link set lo up
  ip -n "$(node_ns $n)" addr add 10.99.0.$i/30 dev wd$$u$i
  ip -n "$(node_ns $n)" link set wd$$u$i up
  nsenter --net=/var/run/netns/"$(node_ns $n)" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$(node_ns $n)" route add 10.244.$o.0/24 via 10.99.0.$o dev wd$$u$i
  cat > "$WORK/$n.conflist" <<JSON
{"cniVersion":"1.0.0","name":"warren-demo","plugins":[
 {"type":"bridge","bridge":"wbr0","isGateway":true,"ipMasq":false,
  "ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.$i.0/24"}]],"dataDir":"$WORK/ipam-$n",
          "routes":[{"dst":"10.244.0.0/16"}]}},
 {"type":"warren-cni","agentSocket":"$WORK/run-$n/cni.sock"}]}
JSON
  mkdir -p "$WORK/run-$n" "$WORK/ipam-$n"
  echo "$n: netns $(node_ns $n), underlay wd$$u$i 10.99.0.$i/30, pods 10.244.$i.0/24"
done

step "each node: warren-agent and warren-tunnel (local CA in $WORK/ca, made on first start)"
for n in node1 node2; do
  # Each node's tunnel and agent sign their audit files' checkpoints with a key of
  # the node's: the tunnel records connections, the agent each pod's capture.
  openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/audit-$n.key"
  # (The agent's files are named <node>-agent-*, a chain of their own beside the tunnel's.)
  start agent-$n "$BIN/warren-agent" --node $n --config-dir "$WORK/cluster" --bpffs "$(pins $n)" --run-dir "$WORK/run-$n" \
    --audit-dir "$WORK/audit-$n" --audit-key "$WORK/audit-$n.key"
  # The tunnel runs in the node's netns (as a hostNetwork DaemonSet pod would):
  # its metrics (15020), readiness (15021) and admin (15000) ports are the node's,
  # and its admin token stays in the demo's dir (not the host's /run/warren).
  start tunnel-$n nsenter --net=/var/run/netns/"$(node_ns $n)" "$BIN/warren-tunnel" \
    --agent-socket "$WORK/run-$n/zds.sock" --bpffs "$(pins $n)" --config-dir "$WORK/cluster" --ca-dir "$WORK/ca" \
    --admin-token-file "$WORK/run-$n/admin-token" \
    --audit-dir "$WORK/audit-$n" --audit-key "$WORK/audit-$n.key" --audit-node $n
done

step "pods"
add_pod node1 payments checkout 10.244.1.10 checkout
add_pod node1 legacy batch 10.244.1.30 batch
add_pod node1 payments fraud-scan 10.244.1.11 fraud-scan
add_pod node2 payments ledger 10.244.2.20 ledger
add_pod node2 legacy reports 10.244.2.40 reports
for p in payments-ledger legacy-reports; do
  # A simple command, not in_pod: a backgrounded function is a subshell whose pid
  # is not the server's, and killing it would leave the server running.
  nsenter --net=/var/run/netns/"$TAG-$p" "$BIN/warren-demo-app" serve 8080 >"$WORK/app-$p.log" 2>&1 &
  PIDS+=($!)
done
# Readiness: the servers print "listening" once bound; the tunnels log the
# cluster state they route by.
for p in payments-ledger legacy-reports; do wait_log "$WORK/app-$p.log" listening; done
for n in node1 node2; do wait_log "$WORK/tunnel-$n.log" "cluster state: 5 workloads, 3 in the mesh"; done

step "warrenctl pod list on node1  (enrolled pods, decoded from the pinned maps)"
"$BIN/warrenctl" --bpffs "$(pins node1)" pod list

step "tcpdump on node1's underlay interface, while the traffic below runs"
# -Z root: keep the right to write into $WORK; --immediate-mode -U: each packet is
# written as it is seen, so stopping right after the traffic loses nothing.
nsenter --net=/var/run/netns/"$(node_ns node1)" tcpdump -i wd$$u1 -U --immediate-mode -n -s 0 -Z root \
  -w "$WORK/underlay.pcap" tcp \
  2>"$WORK/tcpdump.log" &
TCPDUMP=$!
PIDS+=($TCPDUMP)
wait_log "$WORK/tcpdump.log" "listening on"

step "1. payments/checkout (node1) -> payments/ledger:8080 (node2): both in the mesh -> HBONE, mutual TLS"
in_pod payments-checkout "$BIN/warren-demo-app" call 10.244.2.20:8080 "charge 42.00 EUR card 4111-1111"
step "2. payments/checkout (node1) -> legacy/reports:8080 (node2): destination not in the mesh -> plaintext passthrough"
in_pod payments-checkout "$BIN/warren-demo-app" call 10.244.2.40:8080 "monthly totals"
step "3. legacy/batch (node1) -> payments/ledger:8080 (node2): plaintext client, captured inbound at ledger"
in_pod legacy-batch "$BIN/warren-demo-app" call 10.244.2.20:8080 "nightly sync"
step "what payments/ledger's app saw: each caller's own address, through the mesh too"
grep "connection from" "$WORK/app-payments-ledger.log" | sed 's/^/  /'
echo "  (10.244.1.10 is checkout over HBONE, 10.244.1.30 is batch captured inbound: the tunnel keeps the source)"

kill -INT $TCPDUMP; wait $TCPDUMP 2>/dev/null || true
step "what crossed the underlay (tcpdump -r)"
echo "HBONE (to ledger's port 15008), first packets:"
tcpdump -r "$WORK/underlay.pcap" -n 'port 15008' 2>/dev/null | head -4 | sed 's/^/  /'
echo "TLS record types seen on port 15008 (0x16 handshake, 0x17 application data):"
for t in 0x16 0x17; do
  n=$(tcpdump -r "$WORK/underlay.pcap" -n "port 15008 and tcp[((tcp[12:1] & 0xf0) >> 2):1] = $t" 2>/dev/null | wc -l)
  echo "  packets starting with a TLS record of type $t: $n"
done
for s in "card 4111-1111" "monthly totals" "nightly sync"; do
  n=$(grep -a -c "$s" "$WORK/underlay.pcap" || true)
  echo "  payload \"$s\" in clear on the wire: $n packet(s)"
done
echo "  (1. is mesh traffic: never in clear. 2. and 3. involve a pod outside the mesh: plaintext, as in Istio)"

step "the tunnels' HBONE connections (one TLS handshake, then pooled)"
grep -h 'hbone conn' "$WORK"/tunnel-node1.log | sed 's/^[^ ]* [^ ]* [^ ]* /  node1: /'

step "the tunnels' decisions, from their access logs (one JSON line per connection)"
for n in node1 node2; do
  for _ in $(seq 100); do [ "$(grep -c ' access ' "$WORK/tunnel-$n.log")" -ge 2 ] && break; sleep 0.05; done
  echo "$n:"
  grep ' access ' "$WORK/tunnel-$n.log" | sed 's/.* access //' | jq -r \
    '"  \(.direction) \(.pod): \(.src) -> \(.dst)  \(.protocol)/\(.security)" +
     (if .protocol == "hbone" then "  \(.src_identity // "") -> \(.dst_identity)  HTTP \(.hbone_status)"
      else "  (" + (if .direction == "outbound" then "destination not in the mesh: passthrough"
                    else "plaintext client outside the mesh: captured inbound" end) + ")" end)'
done
echo "one line in full:"
grep -m1 ' access ' "$WORK/tunnel-node1.log" | sed 's/.* access /  /'

step "4. L4 policy: an Istio AuthorizationPolicy lets only checkout's service account reach payments"
cat > "$WORK/cluster/policy-payments.yaml" <<'YAML'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-checkout, namespace: payments}
spec:
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/payments/sa/checkout"]}}]
YAML
sed 's/^/  /' "$WORK/cluster/policy-payments.yaml"
wait_log "$WORK/tunnel-node2.log" "1 authorization policies"
echo "allowed: payments/checkout -> payments/ledger:8080"
in_pod payments-checkout "$BIN/warren-demo-app" call 10.244.2.20:8080 "settle batch 7"
echo "denied: payments/fraud-scan -> payments/ledger:8080 (ledger's tunnel answers 401; ledger never sees it)"
in_pod payments-fraud-scan "$BIN/warren-demo-app" call 10.244.2.20:8080 "read all balances" || true

step "node2's verdicts (access log: verdict, deciding policy, reason)"
for _ in $(seq 100); do [ "$(grep -c '"verdict"' "$WORK/tunnel-node2.log")" -ge 2 ] && break; sleep 0.05; done
grep ' access ' "$WORK/tunnel-node2.log" | sed 's/.* access //' | jq -r 'select(.verdict) |
  "  \(.verdict | ascii_upcase)  \(.src_identity) -> \(.dst_workload):\(.dst | split(":") | last)  policy=\(.policy)  \(.policy_reason)"' | tail -2

step "node2's metrics (GET 127.0.0.1:15020/metrics in node2's netns), the two connections above"
nsenter --net=/var/run/netns/"$(node_ns node2)" curl -s 127.0.0.1:15020/metrics |
  grep '^istio_tcp_connections_opened_total{reporter="destination"' |
  grep -E 'source_workload="(checkout|fraud-scan)"' | sed 's/^/  /'
echo "readiness (15021): $(nsenter --net=/var/run/netns/"$(node_ns node2)" curl -s 127.0.0.1:15021/healthz/ready)"

step "warrenctl on node1: why was fraud-scan denied? (the tunnel walks its own decision functions)"
ctl() { local n=$1; shift; nsenter --net=/var/run/netns/"$(node_ns $n)" "$BIN/warrenctl" --bpffs "$(pins $n)" "$@"; }
echo "\$ warrenctl explain payments/fraud-scan 10.244.2.20:8080"
ctl node1 explain payments/fraud-scan 10.244.2.20:8080 | sed 's/^/  /'
echo "\$ warrenctl policy list"
ctl node1 policy list | sed 's/^/  /'
echo "\$ warrenctl cert list   (node2)"
ctl node2 cert list | sed 's/^/  /'
echo "\$ warrenctl stats   (node1: per-pod capture counters from the pinned maps)"
ctl node1 stats | sed 's/^/  /'

step "5. L7 policy: ledger's HTTP API behind a waypoint (Istio's ambient L7: Gateway + istio.io/use-waypoint)"
cat > "$WORK/cluster/waypoint.yaml" <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: payments}
spec: {gatewayClassName: istio-waypoint}
---
apiVersion: v1
kind: Service
metadata:
  name: ledger
  namespace: payments
  labels: {istio.io/use-waypoint: waypoint}
spec:
  clusterIP: 10.96.0.20
  selector: {app: ledger}
  ports: [{name: http, port: 80, targetPort: 8081}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ledger-api, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/payments/sa/checkout"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/balance/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin-writes, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules:
  - to: [{operation: {methods: ["POST"], paths: ["/admin/*"]}}]
YAML
sed 's/^/  /' "$WORK/cluster/waypoint.yaml"
# L4 still applies at ledger's tunnel: the waypoint's own identity must be allowed
# there, as with Istio's waypoints.
sed -i 's|principals: \["cluster.local/ns/payments/sa/checkout"\]|principals: ["cluster.local/ns/payments/sa/checkout", "cluster.local/ns/payments/sa/waypoint"]|' \
  "$WORK/cluster/policy-payments.yaml"
sed -i '/ledger, namespace: payments/s/labels: {}/labels: {app: ledger}/' "$WORK/cluster/pod-payments-ledger.yaml"
add_pod node1 payments waypoint 10.244.1.50 waypoint "gateway.networking.k8s.io/gateway-name: waypoint"
nsenter --net=/var/run/netns/"$TAG-payments-ledger" "$BIN/warren-demo-app" http 8081 >"$WORK/app-ledger-http.log" 2>&1 &
PIDS+=($!)
wait_log "$WORK/app-ledger-http.log" listening
start waypoint nsenter --net=/var/run/netns/"$TAG-payments-waypoint" "$BIN/warren-waypoint" \
  --gateway payments/waypoint --service-account waypoint --config-dir "$WORK/cluster" --ca-dir "$WORK/ca" \
  --admin-token-file "$WORK/waypoint-admin-token"
for n in node1 node2; do wait_log "$WORK/tunnel-$n.log" "cluster state: 6 workloads, 3 in the mesh, 2 services"; done
echo "\$ curl http://10.96.0.20/balance/42 http://10.96.0.20/admin/reset   (one keep-alive connection, from checkout)"
in_pod payments-checkout curl -sS -w '  -> HTTP %{http_code} (new connections: %{num_connects})\n' \
  http://10.96.0.20/balance/42 -w '  -> HTTP %{http_code} (new connections: %{num_connects})\n' \
  http://10.96.0.20/admin/reset | sed 's/^/  /'
echo
echo "\$ curl -X POST http://10.96.0.20/admin/reset   (DENY policy no-admin-writes)"
in_pod payments-checkout curl -sS -X POST -d now=1 -w '  -> HTTP %{http_code}\n' http://10.96.0.20/admin/reset | sed 's/^/  /'
echo
echo "what ledger's HTTP app received (only the allowed request):"
grep '^http:' "$WORK/app-ledger-http.log" | sed 's/^/  /'
echo "the waypoint's access log:"
for _ in $(seq 100); do [ "$(grep -c ' access ' "$WORK/waypoint.log")" -ge 3 ] && break; sleep 0.05; done
grep ' access ' "$WORK/waypoint.log" | sed 's/.* access //' | jq -r \
  '"  \(.method) \(.path) -> \(.response_code)  \(.source_principal)  policy=\(.policy // "-")  \(.response_code_details // "")"'
echo "the waypoint's metrics (GET :15020/metrics in its pod), istio_requests_total:"
in_pod payments-waypoint curl -s 127.0.0.1:15020/metrics | grep '^istio_requests_total' |
  sed -E 's/(source_workload="[^"]*").*(response_code="[^"]*").*(connection_security_policy="[^"]*").*\} (.*)/\1,\2,\3 ... \4/' |
  sed 's/^/  /'

step "6. End users' JWTs at the waypoint: Istio RequestAuthentication + AuthorizationPolicy on token claims"
# The bank's identity provider, played by openssl: an RSA key, its public half as
# a JWK, and tokens signed with it (RS256). A real one (Keycloak, Okta) publishes
# its keys at a jwksUri, which the waypoint fetches over HTTPS the same way.
b64url() { basenc --base64url -w0 | tr -d '='; }
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/idp.key" 2>/dev/null
modulus=$(openssl rsa -in "$WORK/idp.key" -noout -modulus | cut -d= -f2)
n=$(printf '%b' "$(echo "$modulus" | sed 's/../\\x&/g')" | b64url)
# token SUB ROLE EXP_OFFSET: an RS256 token for user SUB with realm role ROLE.
token() {
  local now h p
  now=$(date +%s)
  h=$(printf '{"alg":"RS256","typ":"JWT","kid":"bank-2026"}' | b64url)
  p=$(printf '{"iss":"https://idp.bank.example","sub":"%s","aud":"ledger","iat":%d,"exp":%d,"realm_access":{"roles":["%s"]}}' \
        "$1" "$now" "$((now + $3))" "$2" | b64url)
  printf '%s.%s.%s' "$h" "$p" "$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$WORK/idp.key" -binary | b64url)"
}
token alice customer 3600 >"$WORK/alice.jwt"
token bob loan-officer 3600 >"$WORK/bob.jwt"
token carol customer -7200 >"$WORK/carol-expired.jwt"
cat > "$WORK/cluster/loans.yaml" <<YAML
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: bank-idp, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  jwtRules:
  - issuer: https://idp.bank.example
    audiences: [ledger]
    jwks: '{"keys":[{"kty":"RSA","kid":"bank-2026","alg":"RS256","use":"sig","n":"$n","e":"AQAB"}]}'
    outputClaimToHeaders: [{header: x-bank-user, claim: sub}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: loans-customers, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["https://idp.bank.example/*"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/loans/my/*"]}}]
    when: [{key: "request.auth.claims[realm_access][roles]", values: ["customer"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: loans-officers, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["https://idp.bank.example/*"]}}]
    to: [{operation: {paths: ["/loans/*"]}}]
    when: [{key: "request.auth.claims[realm_access][roles]", values: ["loan-officer"]}]
YAML
sed 's/^/  /; s/"n":"[^"]*"/"n":"<modulus>"/' "$WORK/cluster/loans.yaml"
wait_log "$WORK/waypoint.log" "1 request authentications"
# ask WHO PATH [TOKEN_FILE]: one request from checkout, with the user's token.
ask() {
  local who=$1 path=$2 auth=()
  [ -n "${3:-}" ] && auth=(-H "Authorization: Bearer $(cat "$3")")
  printf '  %-34s GET %-12s -> ' "$who" "$path"
  in_pod payments-checkout curl -sS "${auth[@]}" -o "$WORK/answer" -w '%{http_code}' "http://10.96.0.20$path"
  printf '  %s\n' "$(head -c 60 "$WORK/answer" | tr -d '\n')"
}
ask "alice (customer)" /loans/my/7 "$WORK/alice.jwt"
ask "alice (customer)" /loans/all "$WORK/alice.jwt"
ask "bob (loan-officer)" /loans/all "$WORK/bob.jwt"
ask "no token" /loans/my/7
ask "carol (customer, token expired)" /loans/my/7 "$WORK/carol-expired.jwt"
ask "a forged token (alice's, edited)" /loans/all <(sed 's/\.[^.]*\./.'"$(printf '{"iss":"https://idp.bank.example","sub":"alice","aud":"ledger","exp":9999999999,"realm_access":{"roles":["loan-officer"]}}' | b64url)"'./' "$WORK/alice.jwt")
echo "(200: allowed; 403: the token is valid or absent but no policy allows it; 401: the token does not verify)"
echo "what ledger's app received for /loans (the token removed, the user in x-bank-user):"
grep -A30 '^http: GET /loans' "$WORK/app-ledger-http.log" | grep -E '^http: GET /loans|^http-header: (x-bank-user|authorization)' | sed 's/^/  /'
echo "the waypoint's access log for them:"
for _ in $(seq 100); do [ "$(grep -c '"path":"/loans' "$WORK/waypoint.log")" -ge 6 ] && break; sleep 0.05; done
grep ' access ' "$WORK/waypoint.log" | grep '"/loans' | sed 's/.* access //' | jq -r \
  '"  \(.path) -> \(.response_code)  request_principal=\(.request_principal // "-")  \(.response_code_details // "")"'
echo "istio_requests_total for them (401 and 403 kept apart), and the JWT failures by reason:"
in_pod payments-waypoint curl -s 127.0.0.1:15020/metrics | grep -E '^istio_requests_total.*response_code="(401|403)"' |
  sed -E 's/.*(response_code="[^"]*").*\} (.*)/  \1 ... \2/'
in_pod payments-waypoint curl -s 127.0.0.1:15020/metrics | grep '^warren_waypoint_jwt_failures_total' | sed 's/^/  /'
echo "\$ warrenctl explain payments/checkout 10.96.0.20:80 --request 'GET /loans/all' --jwt alice.jwt"
ctl node1 explain payments/checkout 10.96.0.20:80 --request "GET /loans/all" --jwt "$WORK/alice.jwt" | sed 's/^/  /'

step "fail closed: stop node2's tunnel, then payments/checkout calls payments/ledger again"
kill "${PIDS[3]}"; wait "${PIDS[3]}" 2>/dev/null || true
in_pod payments-checkout "$BIN/warren-demo-app" call 10.244.2.20:8080 "must not travel unprotected" || true
echo "(no plaintext fallback: the connection fails instead)"

step "audit evidence: both nodes' signed audit files, verified and reported"
# node1's tunnel and both agents stop too, so that every last file ends with a
# signed checkpoint (a stopped agent leaves its pods captured: nothing is released).
for i in 1 0 2; do kill "${PIDS[$i]}"; wait "${PIDS[$i]}" 2>/dev/null || true; done
REPORT=$PWD/build/demo-audit-report.html
AUDIT_FILES=("$WORK"/audit-node1/*.audit.jsonl "$WORK"/audit-node2/*.audit.jsonl)
echo "\$ warrenctl audit report --html build/demo-audit-report.html (node1's and node2's files, tunnels and agents)"
"$BIN/warrenctl" -j audit report --html "$REPORT" "${AUDIT_FILES[@]}" >"$WORK/report.json" || true
jq -r '"  files: \([.files[] | "\(.node) \(.verdict)"] | join(", "))",
  "  connections: \(.summary.connections) (\(.summary.mtls) over mutual TLS, \(.summary.not_mtls) not; \(.summary.denied) denied by policy)",
  "  workload certificates: \(.summary.certificates_issued) issued, \(.summary.certificates_rotated) rotated, \(.summary.certificates_expired_in_use) expired in use",
  "  flows not over mutual TLS, with the tunnel'"'"'s reason:",
  (.non_mtls_flows[] | "    \(.source) -> \(.destination):\(.port)  \(.connections)x  \(.reason)"),
  "  coverage (the agents'"'"' capture records): \(.coverage.pods_seen) pods of capturing namespaces seen, \(.coverage.pods_always_captured) always captured, \(.coverage.pods_uncaptured) uncaptured at some time",
  (.coverage.uncaptured[] | "    \(.namespace)/\(.pod) on \(.node): \([.intervals[].reason] | unique | join(", "))")' "$WORK/report.json"
echo "the whole report, for an auditor to open offline: $REPORT"
