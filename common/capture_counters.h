#pragma once
// Warren's per-pod capture counters (warren_counters, a per-CPU hash): splitting
// a raw per-CPU value into CPUs and summing them, shared by warrenctl and the
// tunnel's metrics. Pure: the map I/O stays with the callers.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "warren_abi.h"

namespace warren {

// Bytes one CPU's value takes in a per-CPU map lookup (8-byte aligned).
size_t perCpuStride(size_t valueSize);
// One warren_counters per CPU from the bytes of a per-CPU lookup (values are
// 8-byte aligned per CPU); stops at the bytes' end.
std::vector<warren_counters> splitPerCpu(const std::vector<uint8_t>& raw, size_t ncpus);
warren_counters sumCounters(const std::vector<warren_counters>& perCpu);

// Every field of warren_counters with its name (the metric and JSON name) and
// what it counts, from WARREN_COUNTERS in warren_abi.h.
struct CounterField {
  const char* name;
  const char* help;
  __u64 warren_counters::*field;
};
#define WARREN_COUNTER_ONE(name, help) +1
inline constexpr size_t kCounterFieldCount = 0 WARREN_COUNTERS(WARREN_COUNTER_ONE);
#undef WARREN_COUNTER_ONE
extern const CounterField kCounterFields[kCounterFieldCount];

}  // namespace warren
