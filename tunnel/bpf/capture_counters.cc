#include "tunnel/bpf/capture_counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <vector>

#include "common/capture_counters.h"
#include "common/unique_fd.h"

namespace warren::tunnel {

Result<warren_counters> readCaptureTotals(const std::string& pinRoot) {
  std::string path = pinRoot + "/" + WARREN_MAP_COUNTERS;
  UniqueFd map(bpf_obj_get(path.c_str()));
  if (!map) return errnoError("open pinned map " + path);
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return errnoError("count possible CPUs", -ncpus);
  std::vector<uint8_t> raw(perCpuStride(sizeof(warren_counters)) * static_cast<size_t>(ncpus));
  warren_counters total{};
  uint64_t key = 0, next = 0;
  const uint64_t* prev = nullptr;
  while (bpf_map_get_next_key(map.get(), prev, &next) == 0) {
    // A pod released between the two calls is simply not counted.
    if (bpf_map_lookup_elem(map.get(), &next, raw.data()) == 0)
      total = sumCounters({total, sumCounters(splitPerCpu(raw, static_cast<size_t>(ncpus)))});
    key = next;
    prev = &key;
  }
  return total;
}

Status registerCaptureMetrics(telemetry::TcpMetrics& metrics, const std::string& pinRoot) {
  std::vector<telemetry::TcpMetrics::GroupMember> members;
  for (const auto& f : kCounterFields)
    members.push_back(
        {std::string("warren_capture_") + f.name + "_total", std::string("Enrolled pods, BPF: ") + f.help + "."});
  // One walk of the pinned map per scrape serves every field.
  return metrics.addCounterGroup(std::move(members), [pinRoot] {
    std::vector<double> values;
    auto totals = readCaptureTotals(pinRoot);
    if (!totals) return values;  // the agent's maps are not there (yet): all 0
    for (const auto& f : kCounterFields) values.push_back(static_cast<double>((*totals).*(f.field)));
    return values;
  });
}

}  // namespace warren::tunnel
