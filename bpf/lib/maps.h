/* Every map Warren's programs use; one line each on what it holds. Pinned by
 * name under the agent's pin root so an agent restart keeps capture going. */
#pragma once

#include "warren_abi.h"

/* u64 netns cookie -> struct warren_pod: the pods whose traffic is captured. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WARREN_MAX_PODS);
	__type(key, __u64);
	__type(value, struct warren_pod);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_enrolled SEC(".maps");

/* pod IP -> u64 netns cookie: which enrolled pod an inbound address belongs to
 * (sk_lookup cannot read the netns cookie, so it keys on the local address). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WARREN_MAX_PODS * 2);
	__type(key, struct warren_ip_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_pod_ips SEC(".maps");

/* pod IP -> the tunnel's in-pod inbound listener; entries vanish when the
 * listener closes, which is what makes inbound capture fail closed. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, WARREN_MAX_PODS * 2);
	__type(key, struct warren_ip_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_inbound SEC(".maps");

/* pod IP -> the tunnel's in-pod HBONE (15008) listener: sk_lookup hands port
 * 15008 to this socket only, so no other listener there (an app's, or an app in
 * the tunnel's SO_REUSEPORT group) ever gets it, and none does while it is gone. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, WARREN_MAX_PODS * 2);
	__type(key, struct warren_ip_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_hbone SEC(".maps");

/* captured connection (pod netns, app's local addr:port) -> original destination.
 * Written at TCP connect, deleted when the socket reaches TCP_CLOSE. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WARREN_MAX_CONNS);
	__type(key, struct warren_conn_key);
	__type(value, struct warren_orig_dst);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_orig_dst SEC(".maps");

/* u64 netns cookie -> s64 warren_orig_dst entries the pod holds now (its quota
 * is conns_per_pod). Written by the agent at enrollment; signed so that a pod
 * re-enrolled while old connections close can only get room, never lose it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WARREN_MAX_PODS);
	__type(key, __u64);
	__type(value, __s64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_pod_conns SEC(".maps");

/* Per-socket state of a captured app socket: freed by the kernel with the socket,
 * so nothing here can leak. */
struct warren_sk_state {
	struct warren_orig_dst orig;
	struct warren_conn_key key; /* set once the orig-dst entry is written */
	__u32 recorded;
	__u32 quota_held; /* the entry is counted in warren_pod_conns */
};
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct warren_sk_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_sk_state SEC(".maps");

/* u64 netns cookie -> per-CPU struct warren_counters. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, WARREN_MAX_PODS);
	__type(key, __u64);
	__type(value, struct warren_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_counters SEC(".maps");

/* u64 netns cookie -> struct warren_pod_meta (written by the agent for warrenctl). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WARREN_MAX_PODS);
	__type(key, __u64);
	__type(value, struct warren_pod_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_pod_meta SEC(".maps");

/* Capture events for `warrenctl trace`. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, WARREN_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_events SEC(".maps");
