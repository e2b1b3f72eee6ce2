#include "common/capture_counters.h"

#include <cstring>

namespace warren {

#define WARREN_COUNTER_ENTRY(name, help) {#name, help, &warren_counters::name},
const CounterField kCounterFields[kCounterFieldCount] = {WARREN_COUNTERS(WARREN_COUNTER_ENTRY)};
#undef WARREN_COUNTER_ENTRY

size_t perCpuStride(size_t valueSize) { return (valueSize + 7) & ~size_t{7}; }

std::vector<warren_counters> splitPerCpu(const std::vector<uint8_t>& raw, size_t ncpus) {
  const size_t stride = perCpuStride(sizeof(warren_counters));
  std::vector<warren_counters> out;
  for (size_t cpu = 0; cpu < ncpus && (cpu + 1) * stride <= raw.size(); ++cpu) {
    warren_counters c{};
    std::memcpy(&c, raw.data() + cpu * stride, sizeof(c));
    out.push_back(c);
  }
  return out;
}

warren_counters sumCounters(const std::vector<warren_counters>& perCpu) {
  warren_counters sum{};
  for (const auto& c : perCpu)
    for (const auto& f : kCounterFields) sum.*f.field += c.*f.field;
  return sum;
}

}  // namespace warren
