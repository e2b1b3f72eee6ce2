/* Address helpers: IPv4/IPv6 twins, all on network-order words. */
#pragma once

#include <bpf/bpf_endian.h>
#include "warren_abi.h"

static __always_inline struct warren_addr addr_from_ip4(__u32 ip4)
{
	struct warren_addr a = {};

	__builtin_memcpy(a.addr, &ip4, 4);
	return a;
}

static __always_inline struct warren_addr addr_from_ip6(const __u32 ip6[4])
{
	struct warren_addr a = {};

	__builtin_memcpy(a.addr, ip6, 16);
	return a;
}

static __always_inline int ip4_is_loopback(__u32 ip4)
{
	return (bpf_ntohl(ip4) >> 24) == 127;
}

static __always_inline int ip6_is_loopback(const __u32 ip6[4])
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == 0 && ip6[3] == bpf_htonl(1);
}

/* ::ffff:a.b.c.d, what a dual-stack socket dials for an IPv4 destination. */
static __always_inline int ip6_is_v4mapped(const __u32 ip6[4])
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == bpf_htonl(0x0000ffff);
}

static __always_inline int ip6_equal(const __u32 a[4], const __u8 b[16])
{
	__u32 w[4];

	__builtin_memcpy(w, b, 16);
	return a[0] == w[0] && a[1] == w[1] && a[2] == w[2] && a[3] == w[3];
}
