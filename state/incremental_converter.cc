#include "state/incremental_converter.h"

#include <algorithm>

#include "source/enrollment.h"
#include "state/l7_policy_conversion.h"
#include "state/policy_conversion.h"
#include "state/request_authn_conversion.h"

namespace warren::state {
namespace {

using source::ObjectKind;

std::string namespaceOfKey(const std::string& key) { return key.substr(0, key.find('/')); }

template <typename M>
const typename M::mapped_type* entryOf(const M& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

void setObjectNotes(std::map<std::string, std::vector<std::string>>& all, const std::string& key,
                    std::vector<std::string> notes) {
  if (notes.empty())
    all.erase(key);
  else
    all[key] = std::move(notes);
}

void indexAdd(std::map<std::string, std::set<std::string>>& index, const std::string& at, const std::string& key) {
  index[at].insert(key);
}
void indexDrop(std::map<std::string, std::set<std::string>>& index, const std::string& at, const std::string& key) {
  auto it = index.find(at);
  if (it == index.end()) return;
  it->second.erase(key);
  if (it->second.empty()) index.erase(it);
}

}  // namespace

// --- indexes ---

void IncrementalConverter::indexPod(const std::string& key, const source::Pod* pod) {
  if (auto* old = entryOf(pods_, key)) {
    indexDrop(podsByNs_, old->ns, key);
    indexDrop(podsByUid_, old->uid, key);
    for (const auto& ip : old->ips) indexDrop(podsByIp_, ip, key);
    pods_.erase(key);
  }
  if (!pod) return;
  PodInfo info{pod->ns, pod->uid.empty() ? pod->ns + "/" + pod->name : pod->uid, pod->ips};
  indexAdd(podsByNs_, info.ns, key);
  indexAdd(podsByUid_, info.uid, key);
  for (const auto& ip : info.ips) indexAdd(podsByIp_, ip, key);
  pods_[key] = std::move(info);
}

void IncrementalConverter::indexSlice(const std::string& key, const source::EndpointSlice* slice) {
  if (auto* old = entryOf(slices_, key)) {
    indexDrop(slicesByService_, old->service, key);
    for (const auto& ip : old->ips) indexDrop(slicesByIp_, ip, key);
    slices_.erase(key);
  }
  if (!slice) return;
  SliceInfo info{slice->ns + "/" + slice->serviceName, {}};
  for (const auto& ep : slice->endpoints) info.ips.insert(ep.addresses.begin(), ep.addresses.end());
  indexAdd(slicesByService_, info.service, key);
  for (const auto& ip : info.ips) indexAdd(slicesByIp_, ip, key);
  slices_[key] = std::move(info);
}

void IncrementalConverter::indexService(const std::string& key, const source::Service* svc) {
  if (svc) {
    indexAdd(servicesByNs_, namespaceOfKey(key), key);
    serviceSelectors_[key] = svc->selector;
  } else {
    indexDrop(servicesByNs_, namespaceOfKey(key), key);
    serviceSelectors_.erase(key);
  }
}

// --- objects ---

// Both forms of one AuthorizationPolicy, with stateFromSnapshot's notes.
void IncrementalConverter::convertPolicy(const std::string& key, const source::AuthorizationPolicy* in,
                                         ClusterState::Builder& b) {
  if (auto* old = entryOf(policies_, key)) {
    if (old->selectorScoped) {
      auto& inNs = selectorPolicies_[old->ns];
      inNs.erase(old->stateKey);
      if (inNs.empty()) selectorPolicies_.erase(old->ns);
    }
    if (!old->stateKey.empty()) b.remove(ClusterState::Builder::Kind::Policy, old->stateKey);
    if (!old->l7Key.empty()) b.remove(ClusterState::Builder::Kind::L7Policy, old->l7Key);
    policies_.erase(key);
  }
  policyNotes_.erase(key);
  waypointPolicyNotes_.erase(key);
  if (!in) return;
  PolicyInfo info;
  info.ns = in->ns;
  std::vector<std::string> notes;
  std::string why;
  if (auto p = convertAuthorizationPolicy(*in, options_.rootNamespace, &why)) {
    for (const auto& n : p->conversionNotes)
      notes.push_back("AuthorizationPolicy " + key + " (" + in->where + "): " + n);
    info.stateKey = p->key();
    info.selectorScoped = p->scope == PolicyScope::WorkloadSelector;
    info.selector = in->selector;
    // The pods test the policy's own namespace (p->ns), as the whole build does.
    info.ns = p->ns;
    if (info.selectorScoped) selectorPolicies_[info.ns][info.stateKey] = in->selector;
    b.add(std::move(*p));
  } else {
    notes.push_back("AuthorizationPolicy " + key + " (" + in->where + ") is not enforced by the tunnel: " + why);
  }
  setObjectNotes(policyNotes_, key, std::move(notes));
  if (in->hasTargetRef) {
    std::vector<std::string> l7notes;
    if (auto p = convertWaypointPolicy(*in, &why)) {
      for (const auto& n : p->conversionNotes)
        l7notes.push_back("AuthorizationPolicy " + key + " (" + in->where + "): " + n);
      info.l7Key = p->key();
      b.add(std::move(*p));
    } else {
      l7notes.push_back("AuthorizationPolicy " + key + " (" + in->where + ") is not enforced by any waypoint: " + why);
    }
    setObjectNotes(waypointPolicyNotes_, key, std::move(l7notes));
  }
  policies_[key] = std::move(info);
}

void IncrementalConverter::convertAuthn(const std::string& key, const source::RequestAuthentication* in,
                                        ClusterState::Builder& b) {
  // Its state key is the same "ns/name" (RequestAuthn::key()).
  b.remove(ClusterState::Builder::Kind::RequestAuthn, key);
  authnNotes_.erase(key);
  if (!in) return;
  std::vector<std::string> notes;
  std::string why;
  if (auto r = convertRequestAuthentication(*in, &why)) {
    for (const auto& n : r->conversionNotes)
      notes.push_back("RequestAuthentication " + key + " (" + in->where + "): " + n);
    b.add(std::move(*r));
  } else {
    notes.push_back("RequestAuthentication " + key + " (" + in->where + ") is not enforced by any waypoint: " + why);
  }
  setObjectNotes(authnNotes_, key, std::move(notes));
}

// A Service that is not a waypoint (those make the build whole).
void IncrementalConverter::convertService(const source::Snapshot& snapshot, const std::string& key,
                                          ClusterState::Builder& b) {
  const source::Service* svc = entryOf(snapshot.services, key);
  if (!svc) {
    serviceNotes_.erase(key);
    const std::string ns = namespaceOfKey(key);
    b.remove(ClusterState::Builder::Kind::Service,
             snapshot_conversion::serviceStateKey(ns, key.substr(ns.size() + 1), options_));
    return;
  }
  std::vector<std::string> notes;
  Service s = snapshot_conversion::convertService(*svc, options_);
  s.waypoint = waypoints_.bindingOf(
      svc->labels, entryOf(snapshot.namespaces, svc->ns), svc->ns, "service", options_,
      [&](std::string n) { notes.push_back(std::move(n)); }, "service " + key);
  setObjectNotes(serviceNotes_, key, std::move(notes));
  b.add(std::move(s));
}

// stateFromSnapshot's workload of one pod (with addresses), from the indexes.
Workload IncrementalConverter::convertPod(const source::Snapshot& snapshot, const std::string& key,
                                          const source::Pod& pod, std::vector<std::string>* notes) const {
  const source::Namespace* ns = entryOf(snapshot.namespaces, pod.ns);
  Workload w = snapshot_conversion::podWorkload(pod, ns, options_);
  if (auto* keys = entryOf(servicesByNs_, pod.ns))
    for (const auto& skey : *keys) {
      const source::Service& svc = snapshot.services.at(skey);
      if (svc.selector.empty()) continue;  // its EndpointSlices say (below)
      source::Selector sel{true, svc.selector};
      if (!sel.selects(pod.labels)) continue;
      auto ports = snapshot_conversion::endpointPorts(svc, pod);
      if (!ports.empty())
        w.services[snapshot_conversion::serviceStateKey(svc.ns, svc.name, options_)] = std::move(ports);
    }
  // Selector-less Services' endpoints at this pod's addresses: per address, a
  // later slice (in key order) overrides an earlier one for the same Service;
  // across addresses the first wins, as in the whole build.
  for (const auto& ip : pod.ips) {
    auto* sliceKeys = entryOf(slicesByIp_, ip);
    if (!sliceKeys) continue;
    std::map<std::string, std::vector<ServicePort>> atIp;
    for (const auto& sliceKey : *sliceKeys) {
      const source::EndpointSlice& slice = snapshot.endpointSlices.at(sliceKey);
      const source::Service* svc = entryOf(snapshot.services, slice.ns + "/" + slice.serviceName);
      if (!svc || !svc->selector.empty()) continue;
      std::vector<ServicePort> ports;
      for (const auto& sp : slice.ports)
        for (const auto& p : svc->ports)
          if (p.name == sp.name) ports.push_back({p.port, sp.port});
      if (ports.empty()) continue;
      bool listed = false;
      for (const auto& ep : slice.endpoints)
        if (ep.ready && std::find(ep.addresses.begin(), ep.addresses.end(), ip) != ep.addresses.end()) listed = true;
      if (listed) atIp[snapshot_conversion::serviceStateKey(svc->ns, svc->name, options_)] = std::move(ports);
    }
    for (auto& [skey, ports] : atIp) w.services.emplace(skey, std::move(ports));
  }
  // Selector policies of its namespace and of the root namespace, in key order.
  auto selectedBy = [&](const std::string& policyNs) {
    if (auto* sels = entryOf(selectorPolicies_, policyNs))
      for (const auto& [pkey, sel] : *sels)
        if (sel.selects(pod.labels)) w.policies.push_back(pkey);
  };
  selectedBy(pod.ns);
  if (pod.ns != options_.rootNamespace) selectedBy(options_.rootNamespace);
  std::sort(w.policies.begin(), w.policies.end());
  w.mtls = resolvePeerAuthentication(snapshot, pod.ns, pod.labels, options_.rootNamespace);
  const std::string gatewayName = snapshot_conversion::label(pod.labels, source::kGatewayNameLabel);
  if (auto wp = waypoints_.byGateway.find(pod.ns + "/" + gatewayName);
      !gatewayName.empty() && wp != waypoints_.byGateway.end() && !w.services.count(wp->second.key()))
    w.services[wp->second.key()] = {};
  if (gatewayName.empty())
    w.waypoint = waypoints_.bindingOf(
        pod.labels, ns, pod.ns, "workload", options_, [&](std::string n) { notes->push_back(std::move(n)); },
        "pod " + key);
  return w;
}

// --- builds ---

bool IncrementalConverter::needsWhole(const source::Snapshot& snapshot, const source::SnapshotDiff& changes) const {
  if (!state_) return true;
  if (!changes.of(ObjectKind::Gateway).empty() || !changes.of(ObjectKind::PeerAuthentication).empty()) return true;
  // A Service that is (or was) a waypoint's is converted with the waypoint.
  for (const auto& [key, change] : changes.of(ObjectKind::Service))
    if (snapshot.gateways.count(key) || waypoints_.byGateway.count(key)) return true;
  return false;
}

ClusterStatePtr IncrementalConverter::buildWhole(const source::Snapshot& snapshot, std::vector<Error>* problems) {
  podsByNs_.clear();
  podsByIp_.clear();
  podsByUid_.clear();
  pods_.clear();
  servicesByNs_.clear();
  serviceSelectors_.clear();
  slicesByService_.clear();
  slicesByIp_.clear();
  slices_.clear();
  policies_.clear();
  selectorPolicies_.clear();
  policyNotes_.clear();
  waypointPolicyNotes_.clear();
  authnNotes_.clear();
  serviceNotes_.clear();
  podNotes_.clear();
  ClusterState::Builder b;
  for (const auto& [key, in] : snapshot.authorizationPolicies) convertPolicy(key, &in, b);
  for (const auto& [key, in] : snapshot.requestAuthentications) convertAuthn(key, &in, b);
  waypoints_ = snapshot_conversion::collectWaypoints(snapshot, options_);
  for (const auto& [key, svc] : snapshot.services) {
    indexService(key, &svc);
    if (!waypoints_.byGateway.count(key)) convertService(snapshot, key, b);
  }
  for (const auto& [key, s] : waypoints_.byGateway) b.add(s);
  for (const auto& [key, slice] : snapshot.endpointSlices) indexSlice(key, &slice);
  for (const auto& [key, pod] : snapshot.pods) indexPod(key, &pod);
  counters_.lastPodsConverted = 0;
  for (const auto& [key, pod] : snapshot.pods) {
    if (pod.ips.empty()) continue;
    std::vector<std::string> notes;
    b.add(convertPod(snapshot, key, pod, &notes));  // of two pods with one uid, the later key's wins
    setObjectNotes(podNotes_, key, std::move(notes));
    ++counters_.lastPodsConverted;
  }
  ++counters_.whole;
  return b.finish(problems);
}

ClusterStatePtr IncrementalConverter::apply(const source::Snapshot& snapshot, const source::SnapshotDiff& changes,
                                            std::vector<Error>* notes) {
  std::vector<Error> problems;
  if (needsWhole(snapshot, changes)) {
    state_ = buildWhole(snapshot, &problems);
    if (notes) *notes = assembleNotes(std::move(problems));
    return state_;
  }
  ClusterState::Builder b(state_);
  std::set<std::string> pods, uids, services;
  auto touchPodsAt = [&](const std::string& ip) {
    if (auto* keys = entryOf(podsByIp_, ip)) pods.insert(keys->begin(), keys->end());
  };

  // Pods first: their indexes must be current when the other kinds look up pods.
  for (const auto& [key, change] : changes.of(ObjectKind::Pod)) {
    if (auto* old = entryOf(pods_, key)) uids.insert(old->uid);
    indexPod(key, entryOf(snapshot.pods, key));
    pods.insert(key);
  }
  for (const auto& [name, change] : changes.of(ObjectKind::Namespace)) {
    if (auto* keys = entryOf(podsByNs_, name)) pods.insert(keys->begin(), keys->end());
    if (auto* keys = entryOf(servicesByNs_, name)) services.insert(keys->begin(), keys->end());
  }
  for (const auto& [key, change] : changes.of(ObjectKind::EndpointSlice)) {
    if (auto* old = entryOf(slices_, key))
      for (const auto& ip : old->ips) touchPodsAt(ip);
    indexSlice(key, entryOf(snapshot.endpointSlices, key));
    if (auto* now = entryOf(slices_, key))
      for (const auto& ip : now->ips) touchPodsAt(ip);
  }
  for (const auto& [key, change] : changes.of(ObjectKind::Service)) {
    // The pods of its namespace its old or new selector picks; without one, its
    // slices' addresses are its endpoints.
    std::vector<std::map<std::string, std::string>> selectors;
    if (auto* old = entryOf(serviceSelectors_, key); old && !old->empty()) selectors.push_back(*old);
    const source::Service* now = entryOf(snapshot.services, key);
    if (now && !now->selector.empty()) selectors.push_back(now->selector);
    indexService(key, now);
    services.insert(key);
    if (auto* keys = entryOf(podsByNs_, namespaceOfKey(key)))
      for (const auto& selector : selectors) {
        const source::Selector sel{true, selector};
        for (const auto& pk : *keys)
          if (sel.selects(snapshot.pods.at(pk).labels)) pods.insert(pk);
      }
    if (auto* sliceKeys = entryOf(slicesByService_, key))
      for (const auto& s : *sliceKeys)
        for (const auto& ip : slices_.at(s).ips) touchPodsAt(ip);
  }
  for (const auto& [key, change] : changes.of(ObjectKind::AuthorizationPolicy)) {
    std::vector<std::pair<std::string, source::Selector>> scopes;  // (ns, selector) before and after
    if (auto* old = entryOf(policies_, key); old && old->selectorScoped) scopes.emplace_back(old->ns, old->selector);
    convertPolicy(key, entryOf(snapshot.authorizationPolicies, key), b);
    if (auto* now = entryOf(policies_, key); now && now->selectorScoped) scopes.emplace_back(now->ns, now->selector);
    for (const auto& scope : scopes) {
      // Named, not a structured binding: clang 14 (the fuzz build's) cannot
      // capture a binding in a lambda.
      const std::string& ns = scope.first;
      const source::Selector& sel = scope.second;
      auto consider = [&](const std::set<std::string>& keys) {
        for (const auto& pk : keys)
          if (sel.selects(snapshot.pods.at(pk).labels)) pods.insert(pk);
      };
      if (ns == options_.rootNamespace) {
        for (const auto& [pns, keys] : podsByNs_) consider(keys);
      } else if (auto* keys = entryOf(podsByNs_, ns)) {
        consider(*keys);
      }
    }
  }
  for (const auto& [key, change] : changes.of(ObjectKind::RequestAuthentication))
    convertAuthn(key, entryOf(snapshot.requestAuthentications, key), b);

  for (const auto& key : services)
    if (!waypoints_.byGateway.count(key)) convertService(snapshot, key, b);  // a waypoint's is unchanged

  // Each touched pod's workload and notes; a uid's workload is its last pod's
  // (in key order) with addresses, as when the whole build adds them in order.
  std::map<std::string, Workload> converted;
  for (const auto& key : pods) {
    const source::Pod* pod = entryOf(snapshot.pods, key);
    if (auto* info = entryOf(pods_, key)) uids.insert(info->uid);
    if (!pod || pod->ips.empty()) {
      podNotes_.erase(key);
      continue;
    }
    std::vector<std::string> podNotes;
    converted[key] = convertPod(snapshot, key, *pod, &podNotes);
    setObjectNotes(podNotes_, key, std::move(podNotes));
  }
  counters_.lastPodsConverted = converted.size();
  for (const auto& uid : uids) {
    const std::string* winner = nullptr;
    if (auto* keys = entryOf(podsByUid_, uid))
      for (auto it = keys->rbegin(); it != keys->rend() && !winner; ++it)
        if (!snapshot.pods.at(*it).ips.empty()) winner = &*it;
    if (!winner) {
      b.remove(ClusterState::Builder::Kind::Workload, uid);
    } else if (auto it = converted.find(*winner); it != converted.end()) {
      b.add(std::move(it->second));
    } else {
      std::vector<std::string> same;  // an unchanged pod: its notes stand
      b.add(convertPod(snapshot, *winner, snapshot.pods.at(*winner), &same));
    }
  }
  ++counters_.incremental;
  state_ = b.finish(&problems);
  if (notes) *notes = assembleNotes(std::move(problems));
  return state_;
}

// stateFromSnapshot's order: the L4 policies', the waypoint policies', the
// RequestAuthentications', the services', the pods' notes, then the state's problems.
std::vector<Error> IncrementalConverter::assembleNotes(std::vector<Error> problems) const {
  std::vector<Error> out;
  for (const Notes* notes : {&policyNotes_, &waypointPolicyNotes_, &authnNotes_, &serviceNotes_, &podNotes_})
    for (const auto& [key, list] : *notes)
      for (const auto& n : list) out.push_back(makeError(n));
  for (auto& p : problems) out.push_back(std::move(p));
  return out;
}

}  // namespace warren::state
