#include "tunnel/proxy/inbound_admission.h"

namespace warren::proxy {

InboundAdmission admitInbound(const InboundLimits& limits, size_t open, size_t openFromSource) {
  if (limits.maxConnections && open >= limits.maxConnections) return InboundAdmission::OverTotal;
  if (limits.maxPerSource && openFromSource >= limits.maxPerSource) return InboundAdmission::OverSource;
  return InboundAdmission::Admit;
}

}  // namespace warren::proxy
