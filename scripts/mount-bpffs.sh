#!/usr/bin/env bash
# Makes sure the BPF filesystem is mounted at /sys/fs/bpf, where warren-agent pins
# its maps and links. systemd mounts it on most machines; minimal VMs and
# containers may not. Mounted as systemd does (mode 0700: pins are root's). The
# agent mounts it too when it must; the scripts do it first for warrenctl and tests.
set -euo pipefail
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "mount-bpffs: /sys/fs/bpf is not a BPF filesystem; run as root to mount it" >&2
  exit 1
fi
mkdir -p /sys/fs/bpf
mount -t bpf -o mode=700 bpf /sys/fs/bpf
echo "mount-bpffs: mounted the BPF filesystem at /sys/fs/bpf" >&2
