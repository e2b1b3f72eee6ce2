#pragma once
// The map I/O behind `map show`, `map dump`, `conn list`, `pod show` and `stats`:
// open pins, shape-check, then only lookups and key walks (never an update or a
// delete), handing raw entries to the pure decoders in maps.h and stats.h.

#include <string>
#include <vector>

#include "common/result.h"
#include "tools/warrenctl/cli.h"
#include "tools/warrenctl/maps.h"

namespace warren::ctl {

// Every map pinned directly under the pin root, ordered by name.
Result<std::vector<MapInfoView>> readMapInfos(const std::string& pinRoot);
Result<Output> dumpMap(const std::string& pinRoot, const std::string& name);
Result<std::vector<ConnView>> readConns(const std::string& pinRoot);
Result<Output> showPod(const std::string& pinRoot, const std::string& selector);
Result<Output> readStats(const std::string& pinRoot);

}  // namespace warren::ctl
