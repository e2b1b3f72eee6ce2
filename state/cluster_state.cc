#include "state/cluster_state.h"

#include <algorithm>

namespace warren::state {

std::shared_ptr<const ClusterState> ClusterState::Builder::finish(std::vector<Error>* problems) {
  auto report = [&](std::string msg) {
    if (problems) problems->push_back(makeError(std::move(msg)));
  };
  auto st = std::make_shared<ClusterState>();
  st->policies_ = std::move(policies_);
  st->policyIndex_ = PolicyIndex(st->policies_);
  st->l7Policies_ = std::move(l7Policies_);
  st->requestAuthns_ = std::move(requestAuthns_);
  for (auto& [key, svc] : services_) {
    std::vector<std::string> vips;
    for (const auto& vip : svc.vips) {
      auto [it, fresh] = st->serviceByVip_.emplace(vip, key);
      if (!fresh) {
        report("service " + key + ": VIP " + vip + " already belongs to " + it->second + "; ignored here");
        continue;
      }
      vips.push_back(vip);
    }
    svc.vips = std::move(vips);
  }
  for (auto& [uid, w] : workloads_) {
    for (const auto& [svcKey, ports] : w.services) {
      if (services_.count(svcKey)) st->endpointsByService_[svcKey].push_back(uid);
    }
    if (w.hostNetwork) continue;  // the node's IPs: not indexed (ztunnel does the same)
    std::vector<std::string> ips;
    for (const auto& ip : w.ips) {
      if (st->serviceByVip_.count(ip)) {
        report("workload " + uid + ": IP " + ip + " is a service VIP; ignored");
        continue;
      }
      auto [it, fresh] = st->uidByIp_.emplace(ip, uid);
      if (!fresh) {
        // Two workloads claiming one IP: neither can be trusted to be the one a
        // packet reaches, but the first keeps it so the state stays stable.
        report("workload " + uid + ": IP " + ip + " already belongs to " + it->second + "; ignored here");
        continue;
      }
      ips.push_back(ip);
    }
    w.ips = std::move(ips);
  }
  st->services_ = std::move(services_);
  st->workloads_ = std::move(workloads_);
  return st;
}

const Workload* ClusterState::findByIp(const std::string& ip) const {
  auto it = uidByIp_.find(ip);
  return it == uidByIp_.end() ? nullptr : findWorkload(it->second);
}

const Workload* ClusterState::findWorkload(const std::string& uid) const {
  auto it = workloads_.find(uid);
  return it == workloads_.end() ? nullptr : &it->second;
}

const Service* ClusterState::findServiceByVip(const std::string& ip) const {
  auto it = serviceByVip_.find(ip);
  if (it == serviceByVip_.end()) return nullptr;
  auto s = services_.find(it->second);
  return s == services_.end() ? nullptr : &s->second;
}

std::vector<const Workload*> ClusterState::readyEndpoints(const Service& s) const {
  std::vector<const Workload*> out;
  auto it = endpointsByService_.find(s.key());
  if (it == endpointsByService_.end()) return out;
  for (const auto& uid : it->second) {
    const Workload* w = findWorkload(uid);
    if (w && w->ready && !w->ips.empty()) out.push_back(w);
  }
  return out;
}

std::vector<const AuthorizationPolicy*> ClusterState::policiesFor(const Workload& w) const {
  return policyIndex_.forWorkload(w);
}

const Service* ClusterState::findService(const std::string& key) const {
  auto it = services_.find(key);
  return it == services_.end() ? nullptr : &it->second;
}

namespace {
const Service* resolveWaypoint(const ClusterState& st, const std::string& key, const Workload* source,
                               std::string* missing) {
  if (key.empty()) return nullptr;
  const Service* wp = st.findService(key);
  if (!wp) {
    if (missing) *missing = key;
    return nullptr;
  }
  if (source && st.isEndpointOf(*source, *wp)) return nullptr;
  return wp;
}
}  // namespace

const Service* ClusterState::waypointFor(const Service& dst, const Workload* source, std::string* missing) const {
  return resolveWaypoint(*this, dst.waypoint, source, missing);
}

const Service* ClusterState::waypointFor(const Workload& dst, const Workload* source, std::string* missing) const {
  return resolveWaypoint(*this, dst.waypoint, source, missing);
}

namespace {

// Does an object with these targetRefs bind to this waypoint for `dstService`?
bool bindsTo(const std::vector<L7Target>& targets, const Service& waypoint, const Service* dstService) {
  return std::any_of(targets.begin(), targets.end(), [&](const L7Target& t) {
    if (t.kind == L7Target::Kind::Gateway) return t.ns == waypoint.ns && t.name == waypoint.name;
    return dstService && t.ns == dstService->ns && t.name == dstService->name;
  });
}

}  // namespace

std::vector<const L7Policy*> ClusterState::l7PoliciesFor(const Service& waypoint, const Service* dstService) const {
  std::vector<const L7Policy*> out;
  for (const auto& [key, p] : l7Policies_)
    if (bindsTo(p.targets, waypoint, dstService)) out.push_back(&p);
  return out;
}

std::vector<const RequestAuthn*> ClusterState::requestAuthnsFor(const Service& waypoint,
                                                               const Service* dstService) const {
  std::vector<const RequestAuthn*> out;
  for (const auto& [key, r] : requestAuthns_)
    if (bindsTo(r.targets, waypoint, dstService)) out.push_back(&r);
  return out;
}

void StateStore::set(const ClusterStatePtr& next) {
  std::vector<std::function<void(const ClusterStatePtr&)>> subs;
  {
    std::lock_guard lock(mu_);
    current_ = next;
    subs = subscribers_;
  }
  for (auto& fn : subs) fn(next);
}

void StateStore::subscribe(std::function<void(const ClusterStatePtr&)> fn) {
  std::lock_guard lock(mu_);
  subscribers_.push_back(std::move(fn));
}

}  // namespace warren::state
