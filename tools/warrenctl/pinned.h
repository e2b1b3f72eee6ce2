#pragma once
// Reading Warren's pinned BPF objects (read-only: warrenctl never writes maps).

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "tools/warrenctl/decode.h"

namespace warren::ctl {

struct ProgView {
  std::string linkName;  // file name under <root>/links
  uint32_t linkId = 0, progId = 0;
  std::string linkType, attachType, progType, progName, tag;
  std::string target;  // "cgroup 1234" / "netns 4026532..."
  uint64_t runCount = 0, runTimeNs = 0;
};

Result<std::vector<PodView>> readPods(const std::string& pinRoot);
Result<std::vector<ProgView>> readProgs(const std::string& pinRoot);

}  // namespace warren::ctl
