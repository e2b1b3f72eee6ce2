#include "tunnel/drain/drain_runner.h"

#include <spdlog/spdlog.h>

namespace warren::tunnel {

DrainOutcome runDrain(const std::function<DrainTick()>& tick, const DrainLimits& limits,
                      const std::function<int(std::chrono::milliseconds)>& waitSignal) {
  using namespace std::chrono;
  constexpr milliseconds kTick{100};
  const auto start = steady_clock::now();
  std::optional<steady_clock::time_point> lastNotice;
  size_t told = 0;
  for (;;) {
    const DrainTick t = tick();
    const auto now = steady_clock::now();
    if (t.noticesSent) lastNotice = now;
    told += t.noticesSent;
    DrainProgress p;
    p.elapsed = duration_cast<milliseconds>(now - start);
    p.activeConnections = t.activeConnections;
    if (lastNotice) p.sinceLastNotice = duration_cast<milliseconds>(now - *lastNotice);
    const DrainStep step = judgeDrain(p, limits);
    if (step != DrainStep::Wait) {
      spdlog::info("drain {} after {} ms: {} HBONE connection(s) told GOAWAY, {} connection(s) left",
                   step == DrainStep::Done ? "complete" : "deadline reached", p.elapsed.count(), told,
                   t.activeConnections);
      return {step, p.elapsed, t.activeConnections, 0};
    }
    if (int sig = waitSignal(kTick)) {
      spdlog::warn("signal {} during the drain: stopping now with {} connection(s) open", sig, t.activeConnections);
      return {DrainStep::Wait, p.elapsed, t.activeConnections, sig};
    }
  }
}

}  // namespace warren::tunnel
