/* Publishing the original destination. At connect4/6 time the app socket has no
 * local port yet, so the tunnel could not find it; sockops sees the socket again
 * at TCP_CONNECT (port bound, SYN not yet sent, so strictly before the tunnel can
 * accept it) and writes warren_orig_dst under the address the tunnel will see as
 * its peer. The entry is removed when the socket reaches TCP_CLOSE. */
#pragma once

#include <bpf/bpf_helpers.h>

#include "lib/addr.h"
#include "lib/config.h"
#include "lib/counters.h"
#include "lib/events.h"
#include "lib/maps.h"

#define WARREN_TCP_CLOSE 7 /* BPF_TCP_CLOSE */

static __always_inline void conn_key_from_ops(struct bpf_sock_ops *ops, __u64 cookie,
					      struct warren_conn_key *key)
{
	__u32 ip6[4];

	__builtin_memset(key, 0, sizeof(*key));
	key->netns_cookie = cookie;
	key->src_port = (__u16)ops->local_port; /* host order in sock_ops */
	if (ops->family == WARREN_AF_INET) {
		key->family = WARREN_AF_INET;
		key->src = addr_from_ip4(ops->local_ip4);
		return;
	}
	ip6[0] = ops->local_ip6[0];
	ip6[1] = ops->local_ip6[1];
	ip6[2] = ops->local_ip6[2];
	ip6[3] = ops->local_ip6[3];
	/* A dual-stack socket talking IPv4: the tunnel's IPv4 listener sees a.b.c.d. */
	if (ip6_is_v4mapped(ip6)) {
		key->family = WARREN_AF_INET;
		key->src = addr_from_ip4(ip6[3]);
		return;
	}
	key->family = WARREN_AF_INET6;
	key->src = addr_from_ip6(ip6);
}

/* Takes one of the pod's warren_orig_dst slots. connect4/6 already refused a pod
 * at its quota; this atomic reservation settles the race of concurrent connects.
 * No counter entry (a pod enrolled by an older agent): no quota to enforce. */
static __always_inline int reserve_slot(__u64 cookie, __s64 **held)
{
	*held = bpf_map_lookup_elem(&warren_pod_conns, &cookie);
	if (!*held)
		return 0;
	if (__sync_fetch_and_add(*held, 1) >= (__s64)conns_per_pod) {
		__sync_fetch_and_add(*held, -1);
		return -1;
	}
	return 0;
}

static __always_inline void release_slot(__u64 cookie)
{
	__s64 *held = bpf_map_lookup_elem(&warren_pod_conns, &cookie);

	if (held)
		__sync_fetch_and_add(held, -1);
}

static __always_inline void publish_orig_dst(struct bpf_sock_ops *ops)
{
	struct warren_sk_state *st;
	struct bpf_sock *sk = ops->sk;
	__u64 cookie;
	__s64 *held;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&warren_sk_state, sk, 0, 0);
	if (!st)
		return; /* not a captured socket */
	cookie = st->orig.netns_cookie;
	conn_key_from_ops(ops, cookie, &st->key);
	if (reserve_slot(cookie, &held)) {
		/* Not recorded: the tunnel will refuse this connection, this pod only. */
		count(cookie, WARREN_CNT_QUOTA_REFUSED);
		emit_event(WARREN_EVENT_ORIG_DST_QUOTA, cookie, st->orig.family, &st->key.src,
			   st->key.src_port, &st->orig.ip, st->orig.port);
		return;
	}
	if (bpf_map_update_elem(&warren_orig_dst, &st->key, &st->orig, BPF_ANY)) {
		if (held)
			__sync_fetch_and_add(held, -1);
		/* The tunnel will not find this connection and will refuse it: visible
		 * in the trace rather than silently misrouted. */
		emit_event(WARREN_EVENT_ORIG_DST_FULL, cookie, st->orig.family, &st->key.src,
			   st->key.src_port, &st->orig.ip, st->orig.port);
		return;
	}
	st->quota_held = held ? 1 : 0;
	st->recorded = 1;
	bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void forget_orig_dst(struct bpf_sock_ops *ops)
{
	struct warren_sk_state *st;
	struct bpf_sock *sk = ops->sk;

	if (ops->args[1] != WARREN_TCP_CLOSE || !sk)
		return;
	st = bpf_sk_storage_get(&warren_sk_state, sk, 0, 0);
	if (!st || !st->recorded)
		return;
	/* The key saved at connect time: the socket's own address may already be
	 * cleared on some close paths. */
	bpf_map_delete_elem(&warren_orig_dst, &st->key);
	if (st->quota_held)
		release_slot(st->key.netns_cookie);
	st->recorded = 0;
	st->quota_held = 0;
}
