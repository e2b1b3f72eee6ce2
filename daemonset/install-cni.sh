#!/bin/sh
# Installs warren-cni on the node and chains it as the last plugin of the node's
# first conflist (the way istio-cni chains itself). Idempotent.
set -eu
cp /usr/local/bin/warren-cni /host/opt/cni/bin/warren-cni.tmp
mv /host/opt/cni/bin/warren-cni.tmp /host/opt/cni/bin/warren-cni
conf=$(ls /host/etc/cni/net.d/*.conflist 2>/dev/null | head -n1)
[ -n "$conf" ] || { echo "install-cni: no .conflist in /etc/cni/net.d" >&2; exit 1; }
if ! jq -e '.plugins[] | select(.type == "warren-cni")' "$conf" >/dev/null; then
  jq '.plugins += [{"type": "warren-cni", "agentSocket": "/run/warren/cni.sock"}]' "$conf" > "$conf.tmp"
  mv "$conf.tmp" "$conf"
fi
echo "install-cni: warren-cni chained in $conf"
