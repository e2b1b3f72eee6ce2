// SPDX-License-Identifier: GPL-2.0
/* Warren's capture programs: thin entry points; the logic lives in lib/. */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "lib/inbound.h"
#include "lib/orig_dst.h"
#include "lib/outbound.h"

SEC("cgroup/connect4")
int warren_connect4(struct bpf_sock_addr *ctx)
{
	return capture_connect4(ctx);
}

SEC("cgroup/connect6")
int warren_connect6(struct bpf_sock_addr *ctx)
{
	return capture_connect6(ctx);
}

SEC("cgroup/sendmsg4")
int warren_sendmsg4(struct bpf_sock_addr *ctx)
{
	return count_udp(ctx);
}

SEC("cgroup/sendmsg6")
int warren_sendmsg6(struct bpf_sock_addr *ctx)
{
	return count_udp(ctx);
}

SEC("cgroup/getpeername4")
int warren_getpeer4(struct bpf_sock_addr *ctx)
{
	return restore_peer4(ctx);
}

SEC("cgroup/getpeername6")
int warren_getpeer6(struct bpf_sock_addr *ctx)
{
	return restore_peer6(ctx);
}

SEC("sockops")
int warren_sockops(struct bpf_sock_ops *ops)
{
	switch (ops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		publish_orig_dst(ops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		forget_orig_dst(ops);
		break;
	}
	return 1;
}

SEC("sk_lookup")
int warren_sk_lookup(struct bpf_sk_lookup *ctx)
{
	return steer_inbound(ctx);
}

char LICENSE[] SEC("license") = "GPL";
