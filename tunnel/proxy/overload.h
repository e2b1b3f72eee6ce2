#pragma once
// Overload (Hardening item 1): past a watermark of open file descriptors or of
// bytes held for slow readers, the tunnel sheds *new* connections (reset on
// arrival, counted) while the ones it carries keep working: finishing accepted work
// beats accepting more than the process can hold. Pure; the proxy samples.

#include <cstdint>

namespace warren::proxy {

struct LoadSample {
  uint64_t openFds = 0;
  uint64_t fdLimit = 0;    // the soft RLIMIT_NOFILE now
  uint64_t heldBytes = 0;  // HBONE data received and not yet delivered (hbone::ReceiveBudget)
};

struct Watermarks {
  unsigned fdPercent = 90;  // of fdLimit; 0: not watched
  uint64_t heldBytes = 0;   // 0: not watched
};

enum class LoadState { Normal, Overloaded };

LoadState judgeLoad(const LoadSample& s, const Watermarks& w);

}  // namespace warren::proxy
