#pragma once
// Admission of inbound HBONE connections (a pod's port 15008), decided before any
// TLS work. Anyone who can reach a meshed pod can open TCP connections to 15008,
// unauthenticated: without limits one peer holding thousands of idle connections
// (each in its handshake for up to 10 s) takes the tunnel's descriptors, and
// legitimate peers time out. A real peer tunnel needs few connections (it pools
// up to 100 streams on each), so a per-source cap costs it nothing, and a total cap
// keeps descriptors for the rest of the data path. Over a cap, the connection is
// reset on arrival and counted.

#include <cstddef>

namespace warren::proxy {

struct InboundLimits {
  size_t maxConnections = 0;  // open inbound HBONE connections in all; 0: no cap
  size_t maxPerSource = 256;  // from one source IP; 0: no cap
};

enum class InboundAdmission { Admit, OverTotal, OverSource };

// Pure: `open` connections are open now, `openFromSource` of them from this source.
InboundAdmission admitInbound(const InboundLimits& limits, size_t open, size_t openFromSource);

}  // namespace warren::proxy
