#pragma once

#include "lib/maps.h"

enum warren_counter_field {
	WARREN_CNT_CAPTURED_OUT,
	WARREN_CNT_CAPTURED_IN,
	WARREN_CNT_PASSED,
	WARREN_CNT_FAILED_CLOSED,
	WARREN_CNT_QUOTA_REFUSED,
	WARREN_CNT_UDP_SENDS,
};

static __always_inline void count(__u64 netns_cookie, enum warren_counter_field field)
{
	struct warren_counters *c = bpf_map_lookup_elem(&warren_counters, &netns_cookie);

	if (!c)
		return;
	/* Per-CPU, but a connect4 in process context can be interrupted by an
	 * sk_lookup in softirq on the same CPU: keep the add atomic. */
	switch (field) {
	case WARREN_CNT_CAPTURED_OUT:
		__sync_fetch_and_add(&c->captured_out, 1);
		break;
	case WARREN_CNT_CAPTURED_IN:
		__sync_fetch_and_add(&c->captured_in, 1);
		break;
	case WARREN_CNT_PASSED:
		__sync_fetch_and_add(&c->passed, 1);
		break;
	case WARREN_CNT_FAILED_CLOSED:
		__sync_fetch_and_add(&c->failed_closed, 1);
		break;
	case WARREN_CNT_QUOTA_REFUSED:
		__sync_fetch_and_add(&c->quota_refused, 1);
		break;
	case WARREN_CNT_UDP_SENDS:
		__sync_fetch_and_add(&c->udp_sends, 1);
		break;
	}
}
