#pragma once
// Bytes received over HBONE that their app side has not taken yet, across every
// connection of the process, against one budget.
//
// Why: HTTP/2 has two windows. Returning the connection window only once the app
// took the bytes (as the stream window is) lets a few stalled streams (a reader that
// stops reading) use up the whole connection window and freeze every other stream on
// that connection: with ztunnel's 4 MiB stream / 16 MiB connection windows, four
// stalled streams stop the rest. So the connection window is returned as soon as the
// bytes arrive, and each stream stays bounded by its own window. What then bounds the
// process is this budget: past it, connections return their window only as bytes are
// delivered again, so senders slow down instead of the process growing.
//
// Loop threads of several connections may share one budget: the counter is atomic.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace warren::hbone {

class ReceiveBudget {
 public:
  explicit ReceiveBudget(size_t limitBytes) : limit_(limitBytes) {}

  // `n` more bytes are held. True while the total stays within the budget: the
  // connection window for them may be returned at once. False: over budget, the
  // caller returns it only when they are delivered (and it is counted).
  bool hold(size_t n) {
    const size_t now = held_.fetch_add(n, std::memory_order_relaxed) + n;
    if (now <= limit_) return true;
    overBudget_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // `n` held bytes were delivered or dropped.
  void release(size_t n) { held_.fetch_sub(n, std::memory_order_relaxed); }

  size_t held() const { return held_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_; }
  // Times received data found the budget spent (its connection window held back).
  uint64_t overBudgetCount() const { return overBudget_.load(std::memory_order_relaxed); }

  // The budget every connection uses unless its H2Options name another.
  static ReceiveBudget& process();
  // Sets the process budget's limit (at start, from a flag).
  static void setProcessLimit(size_t limitBytes);

 private:
  std::atomic<size_t> limit_;
  std::atomic<size_t> held_{0};
  std::atomic<uint64_t> overBudget_{0};
};

// The process budget's default: what a node's tunnel may hold in received,
// undelivered HBONE data before it pushes back on every sender.
inline constexpr size_t kDefaultReceiveBudgetBytes = 64u << 20;

}  // namespace warren::hbone
