#pragma once
// Reading Warren's pinned BPF objects: maps by name under the pin root, links under
// <root>/links. Read-only by construction: nothing here updates or deletes map
// entries, and no object is pinned, unpinned or detached.

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "tools/warrenctl/decode.h"
#include "tools/warrenctl/progs.h"

namespace warren::ctl {

// What warrenctl was built to expect of a pinned map (warren_abi.h). Reading a map
// whose value is larger than our struct would let the kernel write past our buffer,
// so every map is checked before its first lookup.
struct MapSpec {
  const char* name;
  bpf_map_type type;
  uint32_t keySize, valueSize;
};

const MapSpec& enrolledMap();
const MapSpec& podMetaMap();
const MapSpec& countersMap();
const MapSpec& inboundMap();

Status checkMapShape(const MapSpec& spec, uint32_t type, uint32_t keySize, uint32_t valueSize);

Result<std::vector<PodView>> readPods(const std::string& pinRoot);
Result<std::vector<ProgView>> readProgs(const std::string& pinRoot);

}  // namespace warren::ctl
