/* Inbound capture: in an enrolled pod's netns, a TCP connection for the pod's IP
 * goes to the tunnel's in-pod inbound listener instead of the app. */
#pragma once

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/addr.h"
#include "lib/config.h"
#include "lib/counters.h"
#include "lib/events.h"
#include "lib/maps.h"

#ifndef IPPROTO_TCP
#define IPPROTO_TCP 6
#endif
#define WARREN_LOOPBACK_IFINDEX 1 /* lo is always ifindex 1 in a netns */

/* Hands the connection to `sk` (a tunnel listener from a sockhash lookup) and to
 * no other socket: NO_REUSEPORT, because the tunnel's listeners are SO_REUSEPORT
 * (for upgrades), so an app of the same uid could join their group, and without
 * the flag the kernel would pick among the group and give the app a share.
 * Non-zero when there is no listener to hand it to. */
static __always_inline long assign_only(struct bpf_sk_lookup *ctx, struct bpf_sock *sk)
{
	long err;

	if (!sk)
		return -1;
	err = bpf_sk_assign(ctx, sk, BPF_SK_LOOKUP_F_NO_REUSEPORT);
	bpf_sk_release(sk);
	return err;
}

static __always_inline int steer_inbound(struct bpf_sk_lookup *ctx)
{
	struct warren_ip_key key = {};
	struct warren_addr src;
	__u64 *cookie;
	__u16 sport;

	if (ctx->protocol != IPPROTO_TCP)
		return SK_PASS;
	/* No remote end: not a packet but connect4's bpf_sk_lookup_tcp() probe for
	 * the tunnel's 15001 listener, which runs this program too. Steering it would
	 * answer with the inbound listener instead. */
	if (ctx->remote_port == 0)
		return SK_PASS;
	/* Arrived on lo: the pod talking to itself, or the tunnel (inside the pod)
	 * handing a connection to the app. Capturing it would loop. */
	if (ctx->ingress_ifindex == WARREN_LOOPBACK_IFINDEX)
		return SK_PASS;

	if (ctx->family == WARREN_AF_INET) {
		if (ip4_is_loopback(ctx->local_ip4) || ctx->remote_ip4 == ctx->local_ip4)
			return SK_PASS;
		key.family = WARREN_AF_INET;
		key.ip = addr_from_ip4(ctx->local_ip4);
		src = addr_from_ip4(ctx->remote_ip4);
	} else {
		__u32 local[4], remote[4];

		local[0] = ctx->local_ip6[0];
		local[1] = ctx->local_ip6[1];
		local[2] = ctx->local_ip6[2];
		local[3] = ctx->local_ip6[3];
		remote[0] = ctx->remote_ip6[0];
		remote[1] = ctx->remote_ip6[1];
		remote[2] = ctx->remote_ip6[2];
		remote[3] = ctx->remote_ip6[3];
		if (ip6_is_loopback(local))
			return SK_PASS;
		key.family = WARREN_AF_INET6;
		key.ip = addr_from_ip6(local);
		src = addr_from_ip6(remote);
		if (ip6_equal(remote, key.ip.addr))
			return SK_PASS;
	}

	cookie = bpf_map_lookup_elem(&warren_pod_ips, &key);
	if (!cookie)
		return SK_PASS; /* not an enrolled pod's address */
	sport = bpf_ntohs(ctx->remote_port);

	/* HBONE arrives already authenticated: it goes to the tunnel's own 15008
	 * listener, and to nothing else listening there. */
	if (ctx->local_port == hbone_port) {
		if (assign_only(ctx, bpf_map_lookup_elem(&warren_hbone, &key)))
			goto fail_closed;
		return SK_PASS;
	}
	if (assign_only(ctx, bpf_map_lookup_elem(&warren_inbound, &key)))
		goto fail_closed;
	count(*cookie, WARREN_CNT_CAPTURED_IN);
	emit_event(WARREN_EVENT_CAPTURED_IN, *cookie, key.family, &src, sport, &key.ip,
		   (__u16)ctx->local_port);
	return SK_PASS;

fail_closed:
	/* Enrolled pod without a live tunnel listener (inbound or HBONE): the client
	 * gets no answer, the app gets nothing unauthenticated. */
	count(*cookie, WARREN_CNT_FAILED_CLOSED);
	emit_event(WARREN_EVENT_FAIL_CLOSED_IN, *cookie, key.family, &src, sport, &key.ip,
		   (__u16)ctx->local_port);
	return SK_DROP;
}
