#include "state/policy_index.h"

#include <algorithm>

#include "state/cluster_state.h"

namespace warren::state {

void PolicyIndex::add(const std::string& key, const AuthorizationPolicy& p) {
  const Ranked r{nextRank_++, &p};
  switch (p.scope) {
    case PolicyScope::Global: global_.push_back(r); break;
    case PolicyScope::Namespace: byNamespace_[p.ns].push_back(r); break;
    case PolicyScope::WorkloadSelector: selectorByKey_.emplace(key, r); break;
  }
}

void PolicyIndex::mergeGlobal() {
  // Each namespace's list carries the global policies too, merged in rank order,
  // so a workload without selector policies gets its answer with one lookup.
  auto byRank = [](const Ranked& a, const Ranked& b) { return a.rank < b.rank; };
  for (auto& [ns, list] : byNamespace_) {
    std::vector<Ranked> merged;
    merged.reserve(list.size() + global_.size());
    std::merge(list.begin(), list.end(), global_.begin(), global_.end(), std::back_inserter(merged), byRank);
    list = std::move(merged);
  }
}

std::vector<const AuthorizationPolicy*> PolicyIndex::forWorkload(const Workload& w) const {
  auto nsIt = byNamespace_.find(w.ns);
  const std::vector<Ranked>& scoped = nsIt == byNamespace_.end() ? global_ : nsIt->second;
  // The selector policies it lists that exist (a name the source could not
  // resolve, or a policy of another scope, selects nothing), each once.
  std::vector<Ranked> selected;
  for (const auto& key : w.policies)
    if (auto it = selectorByKey_.find(key); it != selectorByKey_.end()) selected.push_back(it->second);
  auto byRank = [](const Ranked& a, const Ranked& b) { return a.rank < b.rank; };
  std::sort(selected.begin(), selected.end(), byRank);
  selected.erase(
      std::unique(selected.begin(), selected.end(), [](const Ranked& a, const Ranked& b) { return a.rank == b.rank; }),
      selected.end());

  std::vector<const AuthorizationPolicy*> out;
  out.reserve(scoped.size() + selected.size());
  auto a = scoped.cbegin();
  auto b = selected.cbegin();
  while (a != scoped.cend() || b != selected.cend()) {
    if (b == selected.cend() || (a != scoped.cend() && a->rank < b->rank))
      out.push_back((a++)->policy);
    else
      out.push_back((b++)->policy);
  }
  return out;
}

}  // namespace warren::state
