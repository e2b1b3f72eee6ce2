/* Warren's plain-C ABI between the BPF programs and userspace (agent, tunnel,
 * warrenctl). Included by both sides, so: fixed-width types only, explicit
 * padding, no bool, no enum-typed fields, addresses in network byte order and
 * ports in host byte order (decoded once, in BPF, where the context gives them).
 */
#ifndef WARREN_ABI_H
#define WARREN_ABI_H

#ifndef __BPF__
#include <linux/types.h>
#endif

/* Ports the tunnel listens on inside every enrolled pod's netns (Istio's). */
#define WARREN_OUTBOUND_PORT 15001 /* captured outbound, bound to 127.0.0.1 / ::1 */
#define WARREN_INBOUND_PORT 15006  /* captured inbound, sk_lookup steers here */
#define WARREN_HBONE_PORT 15008    /* HBONE server; sk_lookup lets it pass */

/* SO_MARK on every socket the tunnel opens; the programs never capture them
 * (ztunnel uses the same 0x539). A socket is the tunnel's when its mark masked
 * with WARREN_TUNNEL_MARK_MASK is WARREN_TUNNEL_MARK: higher bits say more. */
#define WARREN_TUNNEL_MARK 0x539
#define WARREN_TUNNEL_MARK_MASK 0xfff
/* Also set on the tunnel's connections to a pod's app that carry the client's
 * address (IP_TRANSPARENT). In the pod's netns, tcp_fwmark_accept copies it to
 * the app's accepted socket and a rule sends such packets to table
 * WARREN_REPLY_TABLE (local default via lo), so the app's replies come back to
 * the tunnel instead of leaving for the client's real address. */
#define WARREN_ORIGINAL_SOURCE_MARK 0x1000
#define WARREN_REPLY_TABLE 1539
#define WARREN_REPLY_RULE_PRIORITY 1539

/* Sizes are overridable so tests can shrink them (katran's MAX_X pattern). */
#ifndef WARREN_MAX_PODS
#define WARREN_MAX_PODS 4096
#endif
#ifndef WARREN_MAX_CONNS
#define WARREN_MAX_CONNS 65536
#endif
/* Captured outbound connections one pod may hold at once (its share of
 * warren_orig_dst): past it the pod's connects are refused, the others' are not. */
#ifndef WARREN_MAX_CONNS_PER_POD
#define WARREN_MAX_CONNS_PER_POD (WARREN_MAX_CONNS / 8)
#endif
#ifndef WARREN_EVENTS_BYTES
#define WARREN_EVENTS_BYTES (256 * 1024)
#endif

#define WARREN_AF_INET 2
#define WARREN_AF_INET6 10

/* An IPv4 or IPv6 address. IPv4 lives in addr[0..3], the rest zero. */
struct warren_addr {
	__u8 addr[16];
};

/* Pod IP key (warren_pod_ips, warren_inbound, warren_hbone). */
struct warren_ip_key {
	__u32 family; /* WARREN_AF_INET or WARREN_AF_INET6 */
	struct warren_addr ip;
};

/* warren_enrolled value: what the programs need to know about an enrolled pod. */
#define WARREN_POD_HAS_IP4 0x1
#define WARREN_POD_HAS_IP6 0x2
struct warren_pod {
	__u32 flags;            /* WARREN_POD_HAS_* */
	__u32 ip4;              /* network order; valid with WARREN_POD_HAS_IP4 */
	struct warren_addr ip6; /* valid with WARREN_POD_HAS_IP6 */
};

/* The destination the app dialed, before connect4/6 rewrote it. */
struct warren_orig_dst {
	struct warren_addr ip;
	__u16 port;   /* host order */
	__u16 family; /* WARREN_AF_* */
	__u32 _pad;
	__u64 netns_cookie; /* the pod that dialed */
};

/* warren_orig_dst key: the captured socket as the tunnel's outbound listener
 * sees its peer. Unambiguous across pods because the netns cookie is in it. */
struct warren_conn_key {
	__u64 netns_cookie;
	struct warren_addr src; /* the app socket's local address (127.0.0.1 / ::1 / pod IP) */
	__u16 src_port;         /* host order */
	__u16 family;
	__u32 _pad;
};

/* Per-pod counters (warren_counters, per-CPU; userspace sums the CPUs). One list
 * makes the struct and userspace's names and help: the tunnel's metric
 * warren_capture_<name>_total, warrenctl's JSON keys. X(name, "what it counts") */
#define WARREN_COUNTERS(X)                                                                         \
	X(captured_out, "outbound connects redirected to the tunnel")                              \
	X(captured_in, "inbound connections steered to the tunnel")                                \
	X(passed, "connects of an enrolled pod left alone (loopback, to itself)")                  \
	X(failed_closed, "connects refused because the tunnel's listener was missing")             \
	X(quota_refused,                                                                           \
	  "connects refused because the pod held its quota of original-destination entries")       \
	X(udp_sends, "UDP sends and connects of an enrolled pod, not captured (only TCP is)")

#define WARREN_COUNTER_FIELD(name, help) __u64 name;
struct warren_counters {
	WARREN_COUNTERS(WARREN_COUNTER_FIELD)
};
#undef WARREN_COUNTER_FIELD

/* Event kinds: one list generates the C constants and userspace's labels
 * (cilium's drop_reasons pattern). X(NAME, value, "label") */
#define WARREN_EVENT_KINDS(X)                                                                      \
	X(CAPTURED_OUT, 1, "captured_outbound")                                                    \
	X(CAPTURED_IN, 2, "captured_inbound")                                                      \
	X(FAIL_CLOSED_OUT, 3, "fail_closed_outbound")                                              \
	X(FAIL_CLOSED_IN, 4, "fail_closed_inbound")                                                \
	X(ORIG_DST_FULL, 5, "orig_dst_map_full")                                                   \
	X(ORIG_DST_QUOTA, 6, "orig_dst_quota")

#define WARREN_EVENT_CONST(name, value, label) WARREN_EVENT_##name = value,
enum {
	WARREN_EVENT_KINDS(WARREN_EVENT_CONST)
};
#undef WARREN_EVENT_CONST

/* One ring-buffer record per capture decision worth seeing in `warrenctl trace`. */
struct warren_event {
	__u64 ts_ns;        /* bpf_ktime_get_ns() */
	__u64 netns_cookie; /* the pod's netns (0 when unknown) */
	__u32 kind;         /* WARREN_EVENT_* */
	__u16 family;
	__u16 _pad;
	struct warren_addr src;
	struct warren_addr dst; /* the original destination */
	__u16 src_port;
	__u16 dst_port;
	__u32 _pad2;
};

/* warren_pod_meta value: who a netns cookie is. Written by the agent, read by
 * warrenctl so that `pod list` works while the agent is down; no program reads it. */
#define WARREN_META_LEN 64
struct warren_pod_meta {
	char uid[WARREN_META_LEN];
	char name[WARREN_META_LEN];
	char namespace_[WARREN_META_LEN];
	char service_account[WARREN_META_LEN];
};

/* Pin layout: maps are pinned by name directly under the pin root; links under
 * <root>/links/ (cgroup links by program, sk_lookup links by netns cookie). */
#define WARREN_PIN_ROOT_DEFAULT "/sys/fs/bpf/warren"
#define WARREN_LINKS_DIR "links"
#define WARREN_SK_LOOKUP_LINK_PREFIX "sk_lookup_" /* + decimal netns cookie */

/* Names of the pinned objects under the pin root (default /sys/fs/bpf/warren). */
#define WARREN_MAP_ENROLLED "warren_enrolled" /* u64 netns cookie -> struct warren_pod */
#define WARREN_MAP_POD_IPS "warren_pod_ips"   /* warren_ip_key -> u64 netns cookie */
#define WARREN_MAP_INBOUND                                                                         \
	"warren_inbound"                /* warren_ip_key -> tunnel inbound listener (sockhash) */
#define WARREN_MAP_HBONE "warren_hbone" /* warren_ip_key -> tunnel HBONE listener (sockhash) */
#define WARREN_MAP_POD_CONNS                                                                       \
	"warren_pod_conns" /* u64 netns cookie -> s64 warren_orig_dst entries held */
#define WARREN_MAP_ORIG_DST "warren_orig_dst" /* warren_conn_key -> warren_orig_dst */
#define WARREN_MAP_COUNTERS "warren_counters" /* u64 netns cookie -> warren_counters (per-CPU) */
#define WARREN_MAP_EVENTS "warren_events"     /* ring buffer of warren_event */
#define WARREN_MAP_POD_META "warren_pod_meta" /* u64 netns cookie -> warren_pod_meta */

#endif /* WARREN_ABI_H */
