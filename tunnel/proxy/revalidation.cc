#include "tunnel/proxy/revalidation.h"

#include <map>
#include <utility>

namespace warren::proxy {

const state::Workload& destinationOf(const state::ClusterState& st, const PodContext& pod, const std::string& dstIp,
                                     state::Workload* storage) {
  if (const auto* w = st.findByIp(dstIp)) return *w;
  storage->uid = pod.uid;
  storage->name = pod.name;
  storage->ns = pod.ns;
  storage->serviceAccount = pod.serviceAccount;
  storage->ips = pod.ips;
  return *storage;
}

namespace {
// The same object, or an equal one: a chunk of the state's maps that a change
// rewrote holds copies of its other entries (state/cow_map.h), and a source that
// rebuilds the state whole makes new objects of unchanged ones.
template <typename T>
bool same(const T* a, const T* b) {
  return a == b || (a && b && *a == *b);
}
}  // namespace

bool decisionInputsUnchanged(const state::ClusterState& before, const state::ClusterState& after, const PodContext& pod,
                             const std::string& dstIp) {
  if (&before == &after) return true;
  const state::Workload* was = before.findByIp(dstIp);
  const state::Workload* is = after.findByIp(dstIp);
  // Both states are alive, so one address is one object, and objects are never
  // changed in place (a change is a new object): equal pointers are the fast path.
  if (!same(was, is)) return false;
  // Neither state lists the address (same() is false for one null): both judge
  // the workload the pod's own context makes.
  state::Workload fromPod;
  const state::Workload& dstBefore = was ? *was : destinationOf(before, pod, dstIp, &fromPod);
  const state::Workload& dstAfter = is ? *is : dstBefore;
  if (!dstAfter.waypoint.empty()) return false;
  const auto policiesBefore = before.policiesFor(dstBefore);
  const auto policiesAfter = after.policiesFor(dstAfter);
  if (policiesBefore.size() != policiesAfter.size()) return false;
  for (size_t i = 0; i < policiesBefore.size(); ++i)
    if (!same(policiesBefore[i], policiesAfter[i])) return false;
  return true;
}

Revalidation revalidate(const state::ClusterState& next, const std::vector<LiveInbound>& live) {
  Revalidation out;
  // Connections to one pod judged with one state share the input check.
  std::map<std::pair<const state::ClusterState*, std::string>, bool> unchanged;
  for (const auto& c : live) {
    const state::ClusterState& before = c.judgedWith ? *c.judgedWith : next;
    auto key = std::make_pair(&before, c.facts->dstIp);
    auto it = unchanged.find(key);
    if (it == unchanged.end())
      it = unchanged
               .emplace(std::move(key), c.judgedWith && decisionInputsUnchanged(before, next, *c.pod, c.facts->dstIp))
               .first;
    if (it->second) {
      out.skipped++;
      continue;
    }
    out.judged++;
    state::Workload storage;
    auto d = authz::authorize(next, destinationOf(next, *c.pod, c.facts->dstIp, &storage), *c.facts);
    if (!d.allowed) out.revoked.push_back({c.id, d.reason});
  }
  return out;
}

}  // namespace warren::proxy
