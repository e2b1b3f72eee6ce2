#pragma once
// Pure decoding of Warren's programs and links from the kernel's info structs
// (bpf_prog_info, bpf_link_info). Field names follow bpftool's `prog show -j` and
// `link show -j` so that people who know bpftool can read ours.

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace warren::ctl {

struct LinkView {
  std::string pin;  // file name under <root>/links
  uint32_t id = 0, progId = 0;
  std::string type;        // "cgroup", "netns", ...
  std::string attachType;  // "cgroup_inet4_connect", "sk_lookup", ...
  std::string targetKind;  // "cgroup" / "netns" / "" for link types Warren does not use
  uint64_t targetId = 0;   // cgroup id or netns inode; 0 once the target is gone
};

struct ProgView {
  uint32_t id = 0;
  std::string type, name, tag;
  bool gplCompatible = false;
  uint64_t loadedAt = 0;  // Unix seconds; 0 when the kernel did not say
  uint32_t uid = 0;
  // Only counted while kernel.bpf_stats_enabled=1; 0 otherwise.
  uint64_t runCnt = 0, runTimeNs = 0;
  uint32_t bytesXlated = 0, bytesJited = 0;
  std::vector<uint32_t> mapIds;
  std::vector<LinkView> links;  // every pinned link that runs this program
};

LinkView decodeLink(const std::string& pin, const bpf_link_info& info);
// `fullName` is the BTF name when known (bpf_prog_info.name stops at 15 chars),
// `bootToUnixNs` is CLOCK_REALTIME - CLOCK_BOOTTIME (load_time counts from boot).
ProgView decodeProg(const bpf_prog_info& info, const std::string& fullName, int64_t bootToUnixNs,
                    std::vector<uint32_t> mapIds);

std::string tagHex(const uint8_t* tag, size_t size);
uint64_t bootTimeToUnix(uint64_t bootNs, int64_t bootToUnixNs);
std::string formatUnixTime(uint64_t seconds);  // "2025-01-31T12:00:00Z"; "-" for 0
std::string linkTarget(const LinkView& l);     // "cgroup 1", "netns 4026531840", "netns (detached)"

// Groups links by program id, in program id order, keeping each program's links in
// the order given (the caller sorts them by pin name).
std::vector<uint32_t> progIdsOf(const std::vector<LinkView>& links);

nlohmann::ordered_json linkJson(const LinkView& l);
nlohmann::ordered_json progJson(const ProgView& p);
std::vector<std::string> progHeaders();
std::vector<std::string> progRow(const ProgView& p);

}  // namespace warren::ctl
