#pragma once
// Lets the tunnel connect to a pod's app with the client's address as source
// (what Istio calls preserving the original source), so the app, its logs and
// its own checks see who is really calling, not the pod's own IP.
//
// The tunnel's socket binds the client's IP with IP_TRANSPARENT and carries
// WARREN_ORIGINAL_SOURCE_MARK. Inside the pod's netns four settings bring the
// app's replies back to it, without iptables or conntrack:
//  - net.ipv4.tcp_fwmark_accept=1: the app's accepted socket takes the mark of
//    the SYN that opened it (the tunnel's, over lo), and so do its replies;
//  - net.ipv4/ipv6.fwmark_reflect=1: so do the kernel's own answers that no
//    socket sends: the RST for a port nobody listens on (the app is down) must
//    reach the tunnel as a refusal, not leave the pod and time the dial out;
//  - a rule: fwmark WARREN_ORIGINAL_SOURCE_MARK -> table WARREN_REPLY_TABLE;
//  - in that table, a local default route via lo (IPv4 and IPv6).
// Only packets of the tunnel's marked connections match, so the pod's own traffic
// is untouched; the settings die with the netns.

#include "common/result.h"

namespace warren::inpod {

// Installs the settings in the calling thread's network namespace (enter the
// pod's first). Idempotent: what is already there counts as done.
Status installReplyRouting(bool ipv4, bool ipv6);

}  // namespace warren::inpod
