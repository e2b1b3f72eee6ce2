#!/bin/sh
# Installs warren-cni on the node and chains it as the last plugin of the node's
# primary CNI configuration (the way istio-cni chains itself), then keeps it
# chained: primary CNIs (k3s's flannel, Calico, Cilium...) write their file again
# when they restart, dropping our entry, so the file is checked every
# CNI_WATCH_INTERVAL seconds and chained again. On SIGTERM it asks the API
# whether Warren is being uninstalled (warren-agent --check-removed) and, if so,
# un-chains warren-cni and deletes its binary; a restart or update leaves both,
# so pods of captured namespaces are never started uncaptured in between.
#
#   install-cni.sh [install|watch|uninstall]   (default watch)
#
# Environment (the DaemonSet's overlays set the host paths; see daemonset/):
#   CNI_NET_DIR          the host's CNI config dir, as mounted (default /host/etc/cni/net.d)
#   CNI_BIN_DIR          the host's CNI plugin dir, as mounted (default /host/opt/cni/bin)
#   CNI_CONF_NAME        chain into this file instead of the first one (as the runtime picks it)
#   CNI_AGENT_SOCKET     warren-agent's CNI socket on the host (default /run/warren/cni.sock)
#   CNI_WATCH_INTERVAL   seconds between checks (default 2)
#   WARREN_DAEMONSET     NAMESPACE/NAME asked about at SIGTERM (unset: never uninstall on exit)
set -eu

net_dir=${CNI_NET_DIR:-/host/etc/cni/net.d}
bin_dir=${CNI_BIN_DIR:-/host/opt/cni/bin}
socket=${CNI_AGENT_SOCKET:-/run/warren/cni.sock}
interval=${CNI_WATCH_INTERVAL:-2}
self=/usr/local/bin/warren-cni

say() { echo "install-cni: $*" >&2; }

# The file the container runtime uses: the first .conflist/.conf/.json by name,
# as containerd and CRI-O choose it.
primary_conf() {
  if [ -n "${CNI_CONF_NAME:-}" ]; then
    [ -f "$net_dir/$CNI_CONF_NAME" ] && echo "$net_dir/$CNI_CONF_NAME"
    return 0
  fi
  for f in "$net_dir"/*; do
    case "$f" in
      *.conflist|*.conf|*.json) [ -f "$f" ] && { echo "$f"; return 0; } ;;
    esac
  done
  return 0
}

install_binary() {
  if ! cmp -s "$self" "$bin_dir/warren-cni"; then
    cp "$self" "$bin_dir/warren-cni.tmp"
    mv "$bin_dir/warren-cni.tmp" "$bin_dir/warren-cni"
    say "installed $bin_dir/warren-cni"
  fi
}

# Chains warren-cni into $1 if it is not there; a single-plugin .conf becomes a
# .conflist (the runtime prefers neither; the name keeps its place in the order).
chain() {
  conf=$1
  if jq -e '(.plugins // [.])[] | select(.type == "warren-cni")' "$conf" >/dev/null 2>&1; then
    return 0
  fi
  jq -e 'type == "object"' "$conf" >/dev/null 2>&1 || { say "$conf is not a JSON object: left alone"; return 0; }
  out=$conf
  case "$conf" in *.conf|*.json) out=${conf%.*}.conflist ;; esac
  jq --arg sock "$socket" '
    (if has("plugins") then . else {cniVersion: .cniVersion, name: .name, plugins: [del(.cniVersion, .name)]} end)
    | .plugins += [{"type": "warren-cni", "agentSocket": $sock}]' "$conf" >"$out.warren-tmp"
  mv "$out.warren-tmp" "$out"
  [ "$out" = "$conf" ] || rm -f "$conf"
  say "warren-cni chained in $out"
}

unchain() {
  for conf in "$net_dir"/*.conflist; do
    [ -f "$conf" ] || continue
    jq -e '.plugins[]? | select(.type == "warren-cni")' "$conf" >/dev/null 2>&1 || continue
    jq 'del(.plugins[] | select(.type == "warren-cni"))' "$conf" >"$conf.warren-tmp"
    mv "$conf.warren-tmp" "$conf"
    say "warren-cni removed from $conf"
  done
  rm -f "$bin_dir/warren-cni"
}

install_once() {
  install_binary
  conf=$(primary_conf)
  if [ -z "$conf" ]; then
    say "no CNI configuration in $net_dir yet (is CNI_NET_DIR this node's? the primary CNI may still be starting)"
    return 1
  fi
  chain "$conf"
}

on_term() {
  if [ -n "${WARREN_DAEMONSET:-}" ]; then
    rc=0
    warren-agent --kube --check-removed "$WARREN_DAEMONSET" || rc=$?
    if [ "$rc" -eq 0 ]; then
      unchain
      say "uninstalled"
    else
      say "Warren stays installed on this node (a restart or update); warren-cni stays chained"
    fi
  fi
  [ -z "${sleeper:-}" ] || kill "$sleeper" 2>/dev/null || true
  exit 0
}

case "${1:-watch}" in
  install) install_once ;;
  uninstall) unchain ;;
  watch)
    trap on_term TERM INT
    while :; do
      install_once || true
      # sleep in the background: a trap runs only between commands, and a
      # SIGTERM must not wait out the interval.
      sleep "$interval" &
      sleeper=$!
      wait "$sleeper" || true
    done
    ;;
  *) say "usage: install-cni.sh [install|watch|uninstall]"; exit 2 ;;
esac
