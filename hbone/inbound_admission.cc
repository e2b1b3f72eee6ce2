#include "hbone/inbound_admission.h"

#include <spdlog/spdlog.h>

#include "io/tcp.h"

namespace warren::hbone {

io::SlotLease admitInbound(const std::shared_ptr<io::ConnectionSlots>& slots, const sockaddr_storage& peer,
                           InboundRefusals& refused, std::string_view to) {
  const std::string source = io::sourceKey(peer);
  auto [admission, lease] = io::takeLease(slots, source);
  if (admission == io::Admission::kAdmitted) return lease;
  (admission == io::Admission::kServerFull ? refused.overTotal : refused.overSource)++;
  spdlog::debug("HBONE to {} from {}: {} ({} inbound connections open, {} from that source); reset", to,
                io::formatIp(peer), io::admissionName(admission), slots->open(), slots->openFrom(source));
  return nullptr;
}

}  // namespace warren::hbone
