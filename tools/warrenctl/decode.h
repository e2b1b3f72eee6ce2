#pragma once
// Pure decoding of Warren's map values into rows and JSON: no BPF calls here, so
// it is unit-tested with hand-made bytes.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "warren_abi.h"

namespace warren::ctl {

enum class ListenerState { Registered, Missing, Unknown };

struct PodView {
  uint64_t netnsCookie = 0;
  std::string uid, name, ns, serviceAccount;  // empty when no metadata entry exists
  std::vector<std::string> ips;
  warren_counters counters{};
  ListenerState listener = ListenerState::Unknown;  // all pod IPs registered in warren_inbound?
  bool skLookupLink = false;
};

// Fixed-size, maybe unterminated char array -> string.
std::string fieldString(const char* data, size_t size);
std::vector<std::string> podIps(const warren_pod& pod);
warren_counters sumCounters(const std::vector<warren_counters>& perCpu);
PodView decodePod(uint64_t cookie, const warren_pod& pod, const warren_pod_meta* meta,
                  const std::vector<warren_counters>& perCpu);

const char* listenerStateName(ListenerState s);
nlohmann::json podJson(const PodView& pod);
std::vector<std::string> podRow(const PodView& pod);
std::vector<std::string> podHeaders();

}  // namespace warren::ctl
