#include "tunnel/proxy/overload.h"

namespace warren::proxy {

LoadState judgeLoad(const LoadSample& s, const Watermarks& w) {
  // openFds / fdLimit >= fdPercent / 100, without floating point or overflow
  // (limits reach 2^20; percents are at most 100).
  if (w.fdPercent && s.fdLimit && s.openFds * 100 >= s.fdLimit * w.fdPercent) return LoadState::Overloaded;
  if (w.heldBytes && s.heldBytes >= w.heldBytes) return LoadState::Overloaded;
  return LoadState::Normal;
}

}  // namespace warren::proxy
