#include "tools/warrenctl/progs.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>

#include "tools/warrenctl/table.h"

namespace warren::ctl {

namespace {

// libbpf names the enums it knows; a newer kernel may hand us one it does not.
std::string nameOr(const char* name, const char* what, uint32_t value) {
  return name ? std::string(name) : std::string(what) + " " + std::to_string(value);
}

// Rows stay short: one program can run behind a link per pod.
constexpr size_t kListInRow = 3;

}  // namespace

LinkView decodeLink(const std::string& pin, const bpf_link_info& info) {
  LinkView l;
  l.pin = pin;
  l.id = info.id;
  l.progId = info.prog_id;
  l.type = nameOr(libbpf_bpf_link_type_str(static_cast<bpf_link_type>(info.type)), "type", info.type);
  auto attach = [](uint32_t a) {
    return nameOr(libbpf_bpf_attach_type_str(static_cast<bpf_attach_type>(a)), "attach", a);
  };
  if (info.type == BPF_LINK_TYPE_CGROUP) {
    l.attachType = attach(info.cgroup.attach_type);
    l.targetKind = "cgroup";
    l.targetId = info.cgroup.cgroup_id;
  } else if (info.type == BPF_LINK_TYPE_NETNS) {
    l.attachType = attach(info.netns.attach_type);
    l.targetKind = "netns";
    l.targetId = info.netns.netns_ino;
  }
  return l;
}

std::string tagHex(const uint8_t* tag, size_t size) {
  std::string s;
  char buf[3];
  for (size_t i = 0; i < size; ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", tag[i]);
    s += buf;
  }
  return s;
}

uint64_t bootTimeToUnix(uint64_t bootNs, int64_t bootToUnixNs) {
  if (bootNs == 0) return 0;
  int64_t unixNs = static_cast<int64_t>(bootNs) + bootToUnixNs;
  return unixNs > 0 ? static_cast<uint64_t>(unixNs) / 1000000000u : 0;
}

std::string formatUnixTime(uint64_t seconds) {
  if (seconds == 0) return "-";
  // UTC rather than bpftool's local time: node clocks and logs in a cluster are UTC.
  time_t t = static_cast<time_t>(seconds);
  tm utc{};
  char buf[32];
  if (!gmtime_r(&t, &utc) || std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc) == 0)
    return std::to_string(seconds);
  return buf;
}

ProgView decodeProg(const bpf_prog_info& info, const std::string& fullName, int64_t bootToUnixNs,
                    std::vector<uint32_t> mapIds) {
  ProgView p;
  p.id = info.id;
  p.type = nameOr(libbpf_bpf_prog_type_str(static_cast<bpf_prog_type>(info.type)), "type", info.type);
  p.name = fullName.empty() ? std::string(info.name, strnlen(info.name, sizeof(info.name))) : fullName;
  p.tag = tagHex(info.tag, sizeof(info.tag));
  p.gplCompatible = info.gpl_compatible;
  p.loadedAt = bootTimeToUnix(info.load_time, bootToUnixNs);
  p.uid = info.created_by_uid;
  p.runCnt = info.run_cnt;
  p.runTimeNs = info.run_time_ns;
  p.bytesXlated = info.xlated_prog_len;
  p.bytesJited = info.jited_prog_len;
  p.mapIds = std::move(mapIds);
  return p;
}

std::string linkTarget(const LinkView& l) {
  if (l.targetKind.empty()) return "-";
  return l.targetKind + " " + (l.targetId ? std::to_string(l.targetId) : "(detached)");
}

std::vector<uint32_t> progIdsOf(const std::vector<LinkView>& links) {
  std::set<uint32_t> ids;
  for (const auto& l : links) ids.insert(l.progId);
  return {ids.begin(), ids.end()};
}

nlohmann::ordered_json linkJson(const LinkView& l) {
  return {{"pin", l.pin},
          {"id", l.id},
          {"type", l.type},
          {"attach_type", l.attachType},
          {"target_type", l.targetKind},
          {"target_id", l.targetId},
          // A netns link outlives its netns and a cgroup link its cgroup; then the id is 0.
          {"attached", l.targetId != 0}};
}

nlohmann::ordered_json progJson(const ProgView& p) {
  nlohmann::ordered_json links = nlohmann::ordered_json::array();
  for (const auto& l : p.links) links.push_back(linkJson(l));
  return {{"id", p.id},
          {"type", p.type},
          {"name", p.name},
          {"tag", p.tag},
          {"gpl_compatible", p.gplCompatible},
          {"loaded_at", p.loadedAt},
          {"uid", p.uid},
          {"run_cnt", p.runCnt},
          {"run_time_ns", p.runTimeNs},
          {"bytes_xlated", p.bytesXlated},
          {"bytes_jited", p.bytesJited},
          {"map_ids", p.mapIds},
          {"links", links}};
}

std::vector<std::string> progHeaders() {
  return {"ID", "TYPE", "NAME", "TAG", "ATTACH", "LINK", "TARGET", "RUN_CNT", "RUN_TIME_NS", "LOADED_AT"};
}

std::vector<std::string> progRow(const ProgView& p) {
  std::vector<std::string> attach, linkIds, targets;
  std::set<std::string> kinds;
  for (const auto& l : p.links) {
    if (std::find(attach.begin(), attach.end(), l.attachType) == attach.end()) attach.push_back(l.attachType);
    linkIds.push_back(std::to_string(l.id));
    kinds.insert(l.targetKind);
  }
  // "netns 4026532246,4026532318" reads better than repeating the kind per link.
  bool oneKind = kinds.size() == 1 && !kinds.begin()->empty();
  for (const auto& l : p.links)
    targets.push_back(oneKind ? (l.targetId ? std::to_string(l.targetId) : "(detached)") : linkTarget(l));
  std::string target = joinLimited(targets, kListInRow);
  if (oneKind) target = *kinds.begin() + " " + target;
  return {std::to_string(p.id),
          p.type,
          p.name,
          p.tag,
          attach.empty() ? "-" : joinLimited(attach, kListInRow),
          linkIds.empty() ? "-" : joinLimited(linkIds, kListInRow),
          targets.empty() ? "-" : target,
          std::to_string(p.runCnt),
          std::to_string(p.runTimeNs),
          formatUnixTime(p.loadedAt)};
}

}  // namespace warren::ctl
