/* Outbound capture: a connect() from an enrolled pod is rewritten to the tunnel's
 * outbound listener in the same pod (pod IP:15001), and the destination the app
 * dialed is kept in the socket's storage for sockops to publish and for
 * getpeername to restore. */
#pragma once

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/addr.h"
#include "lib/config.h"
#include "lib/counters.h"
#include "lib/events.h"
#include "lib/maps.h"

#define SOCK_ALLOW 1
#define SOCK_REJECT 0 /* connect() fails with EPERM */

#ifndef SOCK_STREAM
#define SOCK_STREAM 1
#endif
#ifndef SOCK_DGRAM
#define SOCK_DGRAM 2
#endif
#ifndef IPPROTO_UDP
#define IPPROTO_UDP 17
#endif

/* Is the tunnel's outbound listener up in this netns? Looked up in the kernel's
 * own socket table, so a dead tunnel is noticed at the next connect. */
static __always_inline int tunnel_listener_up4(struct bpf_sock_addr *ctx, __u32 ip4)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	int up;

	t.ipv4.daddr = ip4;
	t.ipv4.dport = bpf_htons(outbound_port);
	sk = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	/* An app listening on 15001 must not pass for the tunnel. */
	up = (sk->mark & WARREN_TUNNEL_MARK_MASK) == tunnel_mark;
	bpf_sk_release(sk);
	return up;
}

static __always_inline int tunnel_listener_up6(struct bpf_sock_addr *ctx, const __u32 ip6[4])
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	int up;

	__builtin_memcpy(t.ipv6.daddr, ip6, 16);
	t.ipv6.dport = bpf_htons(outbound_port);
	sk = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	up = (sk->mark & WARREN_TUNNEL_MARK_MASK) == tunnel_mark;
	bpf_sk_release(sk);
	return up;
}

/* Common gate (the callers check the socket type): an enrolled netns's socket
 * that is not the tunnel's own. */
static __always_inline struct warren_pod *enrolled_pod(struct bpf_sock_addr *ctx, __u64 *cookie)
{
	struct bpf_sock *sk = ctx->sk;

	if (!sk)
		return 0;
	if ((sk->mark & WARREN_TUNNEL_MARK_MASK) == tunnel_mark)
		return 0;
	*cookie = bpf_get_netns_cookie(ctx);
	return bpf_map_lookup_elem(&warren_enrolled, cookie);
}

/* UDP is not captured (as in Istio's ambient mode, only TCP is): an enrolled
 * pod's datagrams leave as they are, counted so that the gap is visible. Runs on
 * connect4/6 of a UDP socket and on sendmsg4/6 (sends with an address), so a
 * connected socket counts once, an unconnected one per send. Never changes the
 * verdict. */
static __always_inline int count_udp(struct bpf_sock_addr *ctx)
{
	__u64 cookie = 0;

	if (ctx->type == SOCK_DGRAM && ctx->protocol == IPPROTO_UDP && enrolled_pod(ctx, &cookie))
		count(cookie, WARREN_CNT_UDP_SENDS);
	return SOCK_ALLOW;
}

/* A pod that already holds its quota of warren_orig_dst entries is refused at
 * connect, so one pod cannot fill the shared map for every other pod. */
static __always_inline int pod_over_quota(__u64 cookie)
{
	__s64 *held = bpf_map_lookup_elem(&warren_pod_conns, &cookie);

	return held && *held >= (__s64)conns_per_pod;
}

static __always_inline void note_quota_refused(__u64 cookie, __u16 family,
					       const struct warren_addr *dst, __u16 dport)
{
	count(cookie, WARREN_CNT_QUOTA_REFUSED);
	emit_event(WARREN_EVENT_ORIG_DST_QUOTA, cookie, family, 0, 0, dst, dport);
}

/* Fail closed: an enrolled pod never reaches the network unredirected. */
static __always_inline void note_fail_closed(__u64 cookie, __u16 family,
					     const struct warren_addr *dst, __u16 dport)
{
	count(cookie, WARREN_CNT_FAILED_CLOSED);
	emit_event(WARREN_EVENT_FAIL_CLOSED_OUT, cookie, family, 0, 0, dst, dport);
}

static __always_inline int remember_orig_dst(struct bpf_sock_addr *ctx, __u64 cookie, __u16 family,
					     const struct warren_addr *dst, __u16 dport)
{
	struct warren_sk_state *st;

	st = bpf_sk_storage_get(&warren_sk_state, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return -1;
	st->orig.ip = *dst;
	st->orig.port = dport;
	st->orig.family = family;
	st->orig.netns_cookie = cookie;
	st->recorded = 0;
	return 0;
}

/* IPv4 destination (from connect4, or a v4-mapped one from connect6).
 * Returns 1 and sets *target4 to redirect, 0 to leave the connect alone, -1 to
 * refuse it. */
static __always_inline int capture_v4(struct bpf_sock_addr *ctx, __u64 cookie,
				      const struct warren_pod *pod, __u32 dst4, __u16 dport,
				      __u32 *target4)
{
	struct warren_addr dst = addr_from_ip4(dst4);
	__u32 target;

	/* Loopback and the pod dialing itself never leave the pod: no identity to add. */
	if (dst4 == 0 || ip4_is_loopback(dst4) ||
	    ((pod->flags & WARREN_POD_HAS_IP4) && dst4 == pod->ip4)) {
		count(cookie, WARREN_CNT_PASSED);
		return 0;
	}
	/* Redirect to the pod's own IP so the app's getsockname() stays its pod IP. */
	target = (pod->flags & WARREN_POD_HAS_IP4) ? pod->ip4 : bpf_htonl(0x7f000001);
	if (pod_over_quota(cookie)) {
		note_quota_refused(cookie, WARREN_AF_INET, &dst, dport);
		return -1;
	}
	if (!tunnel_listener_up4(ctx, target) ||
	    remember_orig_dst(ctx, cookie, WARREN_AF_INET, &dst, dport)) {
		note_fail_closed(cookie, WARREN_AF_INET, &dst, dport);
		return -1;
	}
	count(cookie, WARREN_CNT_CAPTURED_OUT);
	emit_event(WARREN_EVENT_CAPTURED_OUT, cookie, WARREN_AF_INET, 0, 0, &dst, dport);
	*target4 = target;
	return 1;
}

/* Returns SOCK_ALLOW or SOCK_REJECT. */
static __always_inline int capture_connect4(struct bpf_sock_addr *ctx)
{
	struct warren_pod *pod;
	__u64 cookie = 0;
	__u32 target = 0;
	int rc;

	if (ctx->type != SOCK_STREAM)
		return count_udp(ctx);
	pod = enrolled_pod(ctx, &cookie);
	if (!pod)
		return SOCK_ALLOW;
	rc = capture_v4(ctx, cookie, pod, ctx->user_ip4, bpf_ntohs((__u16)ctx->user_port), &target);
	if (rc < 0)
		return SOCK_REJECT;
	if (rc > 0) {
		ctx->user_ip4 = target;
		ctx->user_port = bpf_htons(outbound_port);
	}
	return SOCK_ALLOW;
}

static __always_inline int capture_connect6(struct bpf_sock_addr *ctx)
{
	struct warren_pod *pod;
	struct warren_addr dst;
	__u32 ip6[4], target6[4];
	__u16 dport;
	__u64 cookie = 0;
	int rc;

	if (ctx->type != SOCK_STREAM)
		return count_udp(ctx);
	pod = enrolled_pod(ctx, &cookie);
	if (!pod)
		return SOCK_ALLOW;
	ip6[0] = ctx->user_ip6[0];
	ip6[1] = ctx->user_ip6[1];
	ip6[2] = ctx->user_ip6[2];
	ip6[3] = ctx->user_ip6[3];
	dport = bpf_ntohs((__u16)ctx->user_port);

	if (ip6_is_v4mapped(ip6)) {
		__u32 target4 = 0;

		rc = capture_v4(ctx, cookie, pod, ip6[3], dport, &target4);
		if (rc < 0)
			return SOCK_REJECT;
		if (rc > 0) {
			ctx->user_ip6[3] = target4;
			ctx->user_port = bpf_htons(outbound_port);
		}
		return SOCK_ALLOW;
	}

	dst = addr_from_ip6(ip6);
	if ((ip6[0] | ip6[1] | ip6[2] | ip6[3]) == 0 || ip6_is_loopback(ip6) ||
	    ((pod->flags & WARREN_POD_HAS_IP6) && ip6_equal(ip6, pod->ip6.addr))) {
		count(cookie, WARREN_CNT_PASSED);
		return SOCK_ALLOW;
	}
	if (pod->flags & WARREN_POD_HAS_IP6) {
		__builtin_memcpy(target6, pod->ip6.addr, 16);
	} else {
		target6[0] = 0;
		target6[1] = 0;
		target6[2] = 0;
		target6[3] = bpf_htonl(1);
	}
	if (pod_over_quota(cookie)) {
		note_quota_refused(cookie, WARREN_AF_INET6, &dst, dport);
		return SOCK_REJECT;
	}
	if (!tunnel_listener_up6(ctx, target6) ||
	    remember_orig_dst(ctx, cookie, WARREN_AF_INET6, &dst, dport)) {
		note_fail_closed(cookie, WARREN_AF_INET6, &dst, dport);
		return SOCK_REJECT;
	}
	count(cookie, WARREN_CNT_CAPTURED_OUT);
	emit_event(WARREN_EVENT_CAPTURED_OUT, cookie, WARREN_AF_INET6, 0, 0, &dst, dport);
	ctx->user_ip6[0] = target6[0];
	ctx->user_ip6[1] = target6[1];
	ctx->user_ip6[2] = target6[2];
	ctx->user_ip6[3] = target6[3];
	ctx->user_port = bpf_htons(outbound_port);
	return SOCK_ALLOW;
}

/* The app asked who its peer is: answer with what it dialed, not the tunnel. */
static __always_inline int restore_peer4(struct bpf_sock_addr *ctx)
{
	struct warren_sk_state *st;
	__u32 ip4;

	if (!ctx->sk)
		return SOCK_ALLOW;
	st = bpf_sk_storage_get(&warren_sk_state, ctx->sk, 0, 0);
	if (!st || st->orig.family != WARREN_AF_INET)
		return SOCK_ALLOW;
	__builtin_memcpy(&ip4, st->orig.ip.addr, 4);
	ctx->user_ip4 = ip4;
	ctx->user_port = bpf_htons(st->orig.port);
	return SOCK_ALLOW;
}

static __always_inline int restore_peer6(struct bpf_sock_addr *ctx)
{
	struct warren_sk_state *st;
	__u32 ip6[4];

	if (!ctx->sk)
		return SOCK_ALLOW;
	st = bpf_sk_storage_get(&warren_sk_state, ctx->sk, 0, 0);
	if (!st)
		return SOCK_ALLOW;
	if (st->orig.family == WARREN_AF_INET) {
		/* A dual-stack socket dialed ::ffff:a.b.c.d; give it back in that form. */
		ip6[0] = 0;
		ip6[1] = 0;
		ip6[2] = bpf_htonl(0x0000ffff);
		__builtin_memcpy(&ip6[3], st->orig.ip.addr, 4);
	} else {
		__builtin_memcpy(ip6, st->orig.ip.addr, 16);
	}
	ctx->user_ip6[0] = ip6[0];
	ctx->user_ip6[1] = ip6[1];
	ctx->user_ip6[2] = ip6[2];
	ctx->user_ip6[3] = ip6[3];
	ctx->user_port = bpf_htons(st->orig.port);
	return SOCK_ALLOW;
}
