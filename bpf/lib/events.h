#pragma once

#include "lib/maps.h"

static __always_inline void emit_event(__u32 kind, __u64 netns_cookie, __u16 family,
				       const struct warren_addr *src, __u16 src_port,
				       const struct warren_addr *dst, __u16 dst_port)
{
	struct warren_event *e = bpf_ringbuf_reserve(&warren_events, sizeof(*e), 0);

	/* A full ring only loses trace output, never a capture decision. */
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->netns_cookie = netns_cookie;
	e->kind = kind;
	e->family = family;
	if (src)
		e->src = *src;
	if (dst)
		e->dst = *dst;
	e->src_port = src_port;
	e->dst_port = dst_port;
	bpf_ringbuf_submit(e, 0);
}
