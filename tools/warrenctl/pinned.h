#pragma once
// Reading Warren's pinned BPF objects: maps by name under the pin root, links under
// <root>/links. Read-only by construction: nothing here updates or deletes map
// entries, and no object is pinned, unpinned or detached.

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include <optional>

#include "common/result.h"
#include "common/unique_fd.h"
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
const MapSpec& hboneMap();
const MapSpec& podConnsMap();

const MapSpec& podIpsMap();
const MapSpec& origDstMap();

Status checkMapShape(const MapSpec& spec, uint32_t type, uint32_t keySize, uint32_t valueSize);

struct PinnedMap {
  UniqueFd fd;
  uint32_t maxEntries = 0;
};
// Opens <root>/<spec.name> and checks its shape; nullopt when nothing is pinned there.
Result<std::optional<PinnedMap>> openMap(const std::string& root, const MapSpec& spec);

// Keys of a map, walked with get_next_key only. When the key we hold is deleted
// meanwhile the kernel restarts from the first key: repeats are dropped and the walk
// is bounded, so churn from a live agent can neither duplicate nor loop forever.
Result<std::vector<std::vector<uint8_t>>> mapKeys(int fd, uint32_t keySize, uint32_t maxEntries,
                                                  const std::string& what);

// One lookup: true when found, false for ENOENT, an error for anything else.
Result<bool> lookupElem(int fd, const void* key, void* value, const std::string& what);

Result<std::vector<PodView>> readPods(const std::string& pinRoot);
Result<std::vector<ProgView>> readProgs(const std::string& pinRoot);
// Every link pinned under PIN_ROOT/links, ordered by pin name (what `prog show` reads).
Result<std::vector<LinkView>> readLinks(const std::string& pinRoot);

}  // namespace warren::ctl
