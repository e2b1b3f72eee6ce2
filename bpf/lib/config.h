/* Runtime knobs, set by the loader through the skeleton's rodata before load
 * (libbpf-bootstrap's const volatile pattern): the verifier sees constants. */
#pragma once

#include "warren_abi.h"

const volatile __u32 tunnel_mark = WARREN_TUNNEL_MARK;
const volatile __u16 outbound_port = WARREN_OUTBOUND_PORT;
const volatile __u16 hbone_port = WARREN_HBONE_PORT;
const volatile __u32 conns_per_pod = WARREN_MAX_CONNS_PER_POD;
