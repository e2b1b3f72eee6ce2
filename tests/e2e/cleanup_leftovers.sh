#!/usr/bin/env bash
# Safety net after the e2e tests: removes what a crashed test process could not
# (its destructors never ran). Only objects named for a pid that no longer runs:
# namespaces we2e-<pid>-*, pins /sys/fs/bpf/warren-e2e-<pid>-* (removing the link
# pins detaches the programs), and /tmp/we2e-<pid>-*. Daemons the harness started
# die with it (PR_SET_PDEATHSIG), so no process is ever looked up by name.
set -u
dead() { ! kill -0 "$1" 2>/dev/null; }
pid_of() { local rest=${1#*-}; echo "${rest%%-*}"; }

for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^we2e-'); do
  dead "$(pid_of "$ns")" && ip netns del "$ns"
done
for d in /sys/fs/bpf/warren-e2e-*; do
  [ -e "$d" ] || continue
  dead "$(pid_of "${d##*/warren-}")" && rm -rf "$d"
done
for d in /tmp/we2e-*; do
  [ -e "$d" ] || continue
  dead "$(pid_of "${d##*/}")" && rm -rf "$d"
done
exit 0
