#include "io/connection_slots.h"

#include <netinet/in.h>

#include <cstring>

namespace warren::io {

const char* admissionName(Admission a) {
  switch (a) {
    case Admission::kAdmitted: return "admitted";
    case Admission::kServerFull: return "server_full";
    case Admission::kSourceFull: return "source_full";
  }
  return "unknown";
}

ConnectionSlots::ConnectionSlots(size_t total, size_t perSource)
    : total_(total), perSource_(perSource == 0 || perSource > total ? total : perSource) {}

Admission ConnectionSlots::take(const std::string& source) {
  if (open_ >= total_) return Admission::kServerFull;
  if (openFrom(source) >= perSource_) return Admission::kSourceFull;
  ++open_;
  ++bySource_[source];
  return Admission::kAdmitted;
}

void ConnectionSlots::release(const std::string& source) {
  auto it = bySource_.find(source);
  if (it == bySource_.end()) return;
  --open_;
  if (--it->second == 0) bySource_.erase(it);
}

size_t ConnectionSlots::openFrom(const std::string& source) const {
  auto it = bySource_.find(source);
  return it == bySource_.end() ? 0 : it->second;
}

std::string sourceKey(const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(peer).sin_addr;
    return std::string(reinterpret_cast<const char*>(&a), sizeof(a));
  }
  if (peer.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) return std::string(reinterpret_cast<const char*>(&a) + 12, 4);
    return std::string(reinterpret_cast<const char*>(&a), sizeof(a));
  }
  return {};  // unix or unknown families share one key: the total cap still applies
}

size_t totalCap(size_t flag, uint64_t fileLimit, unsigned share) {
  if (flag) return flag;
  if (share == 0) share = 1;
  return fileLimit >= share ? static_cast<size_t>(fileLimit / share) : 1;
}

namespace {
// Built in place (never copied or moved): its destructor is the one release.
class Held {
 public:
  Held(std::shared_ptr<ConnectionSlots> slots, std::string source)
      : slots_(std::move(slots)), source_(std::move(source)) {}
  Held(const Held&) = delete;
  Held& operator=(const Held&) = delete;
  ~Held() { slots_->release(source_); }

 private:
  std::shared_ptr<ConnectionSlots> slots_;
  std::string source_;
};
}  // namespace

LeaseResult takeLease(const std::shared_ptr<ConnectionSlots>& slots, const std::string& source) {
  const Admission a = slots->take(source);
  if (a != Admission::kAdmitted) return {a, nullptr};
  return {a, std::make_shared<const Held>(slots, source)};
}

}  // namespace warren::io
