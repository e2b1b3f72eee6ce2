#include "tools/warrenctl/select.h"

#include <algorithm>

#include "common/abi_addr.h"

namespace warren::ctl {

namespace {

bool allDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "fd00::1" and "fd00:0::1" are one address: compare in the form pod IPs are printed.
std::string canonicalIp(const std::string& s) {
  auto key = ipKeyFromString(s);
  return key ? ipKeyString(*key) : "";
}

}  // namespace

bool podMatches(const PodView& pod, const std::string& sel) {
  if (sel.empty()) return false;
  if (auto slash = sel.find('/'); slash != std::string::npos)
    return pod.hasMeta && pod.ns == sel.substr(0, slash) && pod.name == sel.substr(slash + 1);
  if (allDigits(sel) && std::to_string(pod.netnsCookie) == sel) return true;
  if (std::string ip = canonicalIp(sel); !ip.empty())
    return std::find(pod.ips.begin(), pod.ips.end(), ip) != pod.ips.end();
  return pod.hasMeta && pod.name == sel;
}

Result<const PodView*> selectPod(const std::vector<PodView>& pods, const std::string& sel) {
  std::vector<const PodView*> hits;
  for (const auto& p : pods)
    if (podMatches(p, sel)) hits.push_back(&p);
  if (hits.empty()) return makeError("no enrolled pod matches '" + sel + "'");
  if (hits.size() == 1) return hits[0];
  std::string names;
  for (const PodView* p : hits) names += (names.empty() ? "" : ", ") + p->ns + "/" + p->name;
  return makeError("'" + sel + "' matches " + std::to_string(hits.size()) + " pods (" + names +
                   "): use NAMESPACE/NAME");
}

}  // namespace warren::ctl
