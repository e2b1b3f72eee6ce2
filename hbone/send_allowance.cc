#include "hbone/send_allowance.h"

#include <algorithm>

namespace warren::hbone {

size_t appReadAllowance(size_t buffered, size_t capacity, int64_t peerWindow) {
  if (peerWindow <= 0 || buffered >= capacity) return 0;
  const size_t window = static_cast<size_t>(peerWindow);
  if (buffered >= window) return 0;
  return std::min(capacity - buffered, window - buffered);
}

}  // namespace warren::hbone
