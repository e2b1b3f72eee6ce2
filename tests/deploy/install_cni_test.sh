#!/usr/bin/env bash
# install-cni.sh against a CNI config directory of its own: chains warren-cni
# last, once; turns a .conf into a .conflist; chains again after the primary CNI
# rewrites its file (watch mode); keeps the chain at SIGTERM when it cannot learn
# that Warren is being removed (no WARREN_DAEMONSET); `uninstall` un-chains and
# deletes the binary. Waits are on the file's contents, with a deadline.
set -euo pipefail
script=$1
dir=$(mktemp -d /tmp/warren-install-cni.XXXXXX)
watcher=
cleanup() { [ -n "$watcher" ] && kill "$watcher" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir -p "$dir/net.d" "$dir/bin" "$dir/self"
export CNI_NET_DIR=$dir/net.d CNI_BIN_DIR=$dir/bin CNI_WATCH_INTERVAL=0.1
# The script installs /usr/local/bin/warren-cni; any file stands in for it here.
sed "s#^self=.*#self=$dir/self/warren-cni#" "$script" >"$dir/install-cni.sh"
echo fake-plugin >"$dir/self/warren-cni"
primary='{"cniVersion":"1.0.0","name":"k8s","plugins":[{"type":"bridge"},{"type":"portmap"}]}'
chained() { jq -r '[.plugins[].type] | join(",")' "$1"; }

echo "$primary" >"$dir/net.d/10-k8s.conflist"
echo '{"cniVersion":"1.0.0","name":"later","plugins":[{"type":"bridge"}]}' >"$dir/net.d/20-later.conflist"
sh "$dir/install-cni.sh" install
[ "$(chained "$dir/net.d/10-k8s.conflist")" = "bridge,portmap,warren-cni" ] || fail "not chained last: $(cat "$dir/net.d/10-k8s.conflist")"
[ "$(chained "$dir/net.d/20-later.conflist")" = "bridge" ] || fail "chained into a file the runtime does not use"
cmp -s "$dir/bin/warren-cni" "$dir/self/warren-cni" || fail "binary not installed"
sh "$dir/install-cni.sh" install
[ "$(chained "$dir/net.d/10-k8s.conflist")" = "bridge,portmap,warren-cni" ] || fail "chained twice"
[ "$(jq -r '.plugins[-1].agentSocket' "$dir/net.d/10-k8s.conflist")" = /run/warren/cni.sock ] || fail "no agentSocket"

# A single-plugin .conf becomes a .conflist of the same name.
rm "$dir/net.d/"*
echo '{"cniVersion":"0.4.0","name":"flannel","type":"flannel","delegate":{"isDefaultGateway":true}}' >"$dir/net.d/10-flannel.conf"
sh "$dir/install-cni.sh" install
[ ! -e "$dir/net.d/10-flannel.conf" ] || fail ".conf left behind"
[ "$(chained "$dir/net.d/10-flannel.conflist")" = "flannel,warren-cni" ] || fail ".conf not converted: $(cat "$dir/net.d/10-flannel.conflist")"
[ "$(jq -r '.plugins[0].delegate.isDefaultGateway' "$dir/net.d/10-flannel.conflist")" = true ] || fail "plugin fields lost"

# Watch: the primary CNI writes its file again, without us; we come back.
rm "$dir/net.d/"*
echo "$primary" >"$dir/net.d/10-k8s.conflist"
sh "$dir/install-cni.sh" watch &
watcher=$!
wait_for() {  # wait_for EXPECTED FILE: until the chain reads EXPECTED, 10 s at most
  for _ in $(seq 1 200); do
    [ "$(chained "$2" 2>/dev/null || true)" = "$1" ] && return 0
    sleep 0.05
  done
  fail "$2 never became $1: $(cat "$2")"
}
wait_for bridge,portmap,warren-cni "$dir/net.d/10-k8s.conflist"
echo "$primary" >"$dir/net.d/10-k8s.conflist.new" && mv "$dir/net.d/10-k8s.conflist.new" "$dir/net.d/10-k8s.conflist"
wait_for bridge,portmap,warren-cni "$dir/net.d/10-k8s.conflist"

# SIGTERM with no way to ask the API: a restart, the chain stays.
kill -TERM "$watcher"
wait "$watcher" || fail "watch mode did not exit cleanly at SIGTERM"
watcher=
[ "$(chained "$dir/net.d/10-k8s.conflist")" = "bridge,portmap,warren-cni" ] || fail "un-chained at a restart"
[ -e "$dir/bin/warren-cni" ] || fail "binary removed at a restart"

sh "$dir/install-cni.sh" uninstall
[ "$(chained "$dir/net.d/10-k8s.conflist")" = "bridge,portmap" ] || fail "not un-chained: $(cat "$dir/net.d/10-k8s.conflist")"
[ ! -e "$dir/bin/warren-cni" ] || fail "binary left behind"
echo "install-cni: all checks passed"
