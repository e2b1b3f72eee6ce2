#include "state/cluster_state.h"

#include <algorithm>
#include <set>

namespace warren::state {

namespace {

using Keys = std::vector<std::string>;

// The cross-check's problems, worded once for both builds.
std::string vipTaken(const std::string& key, const std::string& vip, const std::string& owner) {
  return "service " + key + ": VIP " + vip + " already belongs to " + owner + "; ignored here";
}
std::string ipIsVip(const std::string& uid, const std::string& ip) {
  return "workload " + uid + ": IP " + ip + " is a service VIP; ignored";
}
std::string ipTaken(const std::string& uid, const std::string& ip, const std::string& owner) {
  return "workload " + uid + ": IP " + ip + " already belongs to " + owner + "; ignored here";
}

// Sorted lists with repeats kept (a workload may list one IP twice).
void insertSorted(Keys& v, const std::string& k) { v.insert(std::upper_bound(v.begin(), v.end(), k), k); }
void eraseOne(Keys& v, const std::string& k) {
  auto it = std::lower_bound(v.begin(), v.end(), k);
  if (it != v.end() && *it == k) v.erase(it);
}

template <typename T, typename Alloc>
CowMap<std::string, T> present(std::map<std::string, std::optional<T>, std::less<std::string>, Alloc>& m) {
  CowMap<std::string, T> out;
  for (auto it = m.begin(); it != m.end();) {
    auto node = m.extract(it++);
    if (node.mapped()) out.appendSorted(std::move(node.key()), std::move(*node.mapped()));
  }
  return out;
}

template <typename T, typename Alloc>
bool applyChanges(std::map<std::string, std::optional<T>, std::less<std::string>, Alloc>& changes,
                  CowMap<std::string, T>& into) {
  for (auto& [key, v] : changes) {
    if (v)
      into.insert_or_assign(key, std::move(*v));
    else
      into.erase(key);
  }
  return !changes.empty();
}

void setOrErase(CowMap<std::string, Keys>& m, const std::string& key, Keys v) {
  if (v.empty())
    m.erase(key);
  else
    m.insert_or_assign(key, std::move(v));
}

// One IP's or VIP's claimants as the cross-check reads them, in key order: the
// first keeps it (for an IP, unless it is a VIP), each later one is told whose it is.
template <typename Owned>
Owned crossCheck(const Keys& raw, const std::string& self, const std::function<Keys(const std::string&)>& claimants,
                 const std::function<std::optional<std::string>(const std::string&)>& vetoed, Keys& problems,
                 const std::function<std::string(const std::string&, const std::string&)>& taken) {
  Owned kept;
  for (const auto& addr : raw) {
    if (auto veto = vetoed(addr)) {
      problems.push_back(*veto);
      continue;
    }
    const Keys c = claimants(addr);
    const std::string owner = c.empty() ? self : c.front();
    if (owner == self && std::find(kept.begin(), kept.end(), addr) == kept.end())
      kept.push_back(addr);
    else
      problems.push_back(taken(addr, owner));
  }
  return kept;
}

}  // namespace

void ClusterState::Builder::remove(Kind kind, const std::string& key) {
  auto drop = [&](auto& m) {
    if (prev_)
      m.insert_or_assign(key, std::nullopt);
    else
      m.erase(key);
  };
  switch (kind) {
    case Kind::Workload: drop(workloads_); break;
    case Kind::Service: drop(services_); break;
    case Kind::Policy: drop(policies_); break;
    case Kind::L7Policy: drop(l7Policies_); break;
    case Kind::RequestAuthn: drop(requestAuthns_); break;
  }
}

std::shared_ptr<const ClusterState> ClusterState::Builder::finish(std::vector<Error>* problems) {
  std::shared_ptr<const ClusterState> st = prev_ ? finishFrom(*prev_) : finishWhole();
  prev_.reset();
  // Every service's problems, then every workload's, each in key order: the order
  // the whole build meets them in.
  if (problems) {
    for (const auto& [key, list] : st->serviceProblems_)
      for (const auto& m : list) problems->push_back(makeError(m));
    for (const auto& [uid, list] : st->workloadProblems_)
      for (const auto& m : list) problems->push_back(makeError(m));
  }
  return st;
}

std::shared_ptr<const ClusterState> ClusterState::Builder::finishWhole() {
  auto st = std::make_shared<ClusterState>();
  st->policies_ = present(policies_);
  st->policyIndex_ = std::make_shared<const PolicyIndex>(st->policies_);
  st->l7Policies_ = present(l7Policies_);
  st->requestAuthns_ = present(requestAuthns_);
  // Their nodes in a pool, freed whole: see pool_.
  std::pmr::monotonic_buffer_resource pool;
  std::pmr::map<std::string, std::string> serviceByVip(&pool), uidByIp(&pool);
  std::pmr::map<std::string, Keys> vipClaims(&pool), ipClaims(&pool), rawVips(&pool), rawIps(&pool),
      serviceProblems(&pool), workloadProblems(&pool), endpoints(&pool);
  for (auto& [key, svc] : services_) {
    if (!svc) continue;
    Keys vips;
    for (const auto& vip : svc->vips) {
      auto [it, fresh] = serviceByVip.emplace(vip, key);
      if (!fresh) {
        auto& claims = vipClaims[vip];
        if (claims.empty()) claims.push_back(it->second);
        claims.push_back(key);
        serviceProblems[key].push_back(vipTaken(key, vip, it->second));
        continue;
      }
      vips.push_back(vip);
    }
    if (vips.size() != svc->vips.size()) rawVips[key] = svc->vips;
    svc->vips = std::move(vips);
  }
  for (auto& [uid, w] : workloads_) {
    if (!w) continue;
    for (const auto& [svcKey, ports] : w->services) endpoints[svcKey].push_back(uid);
    if (w->hostNetwork) continue;  // the node's IPs: not indexed (ztunnel does the same)
    Keys ips;
    for (const auto& ip : w->ips) {
      if (serviceByVip.count(ip)) {
        ipClaims[ip].push_back(uid);
        workloadProblems[uid].push_back(ipIsVip(uid, ip));
        continue;
      }
      auto [it, fresh] = uidByIp.emplace(ip, uid);
      if (!fresh) {
        // Two workloads claiming one IP: neither can be trusted to be the one a
        // packet reaches, but the first keeps it so the state stays stable.
        auto& claims = ipClaims[ip];
        if (claims.empty()) claims.push_back(it->second);
        claims.push_back(uid);
        workloadProblems[uid].push_back(ipTaken(uid, ip, it->second));
        continue;
      }
      ips.push_back(ip);
    }
    if (ips.size() != w->ips.size()) rawIps[uid] = w->ips;
    w->ips = std::move(ips);
  }
  st->services_ = present(services_);
  st->workloads_ = present(workloads_);
  st->serviceByVip_ = CowMap<std::string, std::string>::fromSorted(serviceByVip);
  st->uidByIp_ = CowMap<std::string, std::string>::fromSorted(uidByIp);
  st->endpointsByService_ = CowMap<std::string, Keys>::fromSorted(endpoints);
  st->vipClaims_ = CowMap<std::string, Keys>::fromSorted(vipClaims);
  st->ipClaims_ = CowMap<std::string, Keys>::fromSorted(ipClaims);
  st->rawVips_ = CowMap<std::string, Keys>::fromSorted(rawVips);
  st->rawIps_ = CowMap<std::string, Keys>::fromSorted(rawIps);
  st->serviceProblems_ = CowMap<std::string, Keys>::fromSorted(serviceProblems);
  st->workloadProblems_ = CowMap<std::string, Keys>::fromSorted(workloadProblems);
  return st;
}

std::shared_ptr<const ClusterState> ClusterState::Builder::finishFrom(const ClusterState& prev) {
  auto st = std::make_shared<ClusterState>();
  // Copies of chunk pointers: the unchanged objects are shared with prev.
  st->workloads_ = prev.workloads_;
  st->services_ = prev.services_;
  st->policies_ = prev.policies_;
  st->l7Policies_ = prev.l7Policies_;
  st->requestAuthns_ = prev.requestAuthns_;
  st->uidByIp_ = prev.uidByIp_;
  st->serviceByVip_ = prev.serviceByVip_;
  st->endpointsByService_ = prev.endpointsByService_;
  st->ipClaims_ = prev.ipClaims_;
  st->vipClaims_ = prev.vipClaims_;
  st->rawIps_ = prev.rawIps_;
  st->rawVips_ = prev.rawVips_;
  st->serviceProblems_ = prev.serviceProblems_;
  st->workloadProblems_ = prev.workloadProblems_;

  // The index points into the policies' chunks: while no policy changes, the
  // new state holds the same chunks and can share it.
  st->policyIndex_ =
      applyChanges(policies_, st->policies_) ? std::make_shared<const PolicyIndex>(st->policies_) : prev.policyIndex_;
  applyChanges(l7Policies_, st->l7Policies_);
  applyChanges(requestAuthns_, st->requestAuthns_);

  // Services: withdraw the old claims, make the new ones; then recheck every
  // service contending for a VIP that changed hands.
  std::set<std::string> dirtyVips, recheckServices;
  for (auto& [key, svc] : services_) {
    if (const Service* old = st->services_.get(key)) {
      const Keys raw = st->rawVips_.contains(key) ? st->rawVips_.at(key) : old->vips;
      for (const auto& vip : raw) {
        Keys c = st->vipClaimants(vip);
        eraseOne(c, key);
        st->setVipClaimants(vip, std::move(c));
        dirtyVips.insert(vip);
      }
      st->services_.erase(key);
      st->rawVips_.erase(key);
      st->serviceProblems_.erase(key);
    }
    if (!svc) continue;
    for (const auto& vip : svc->vips) {
      Keys c = st->vipClaimants(vip);
      insertSorted(c, key);
      st->setVipClaimants(vip, std::move(c));
      dirtyVips.insert(vip);
    }
    recheckServices.insert(key);
    st->services_.insert_or_assign(key, std::move(*svc));  // with its VIPs as given, until rechecked
  }
  for (const auto& vip : dirtyVips)
    for (const auto& key : st->vipClaimants(vip)) recheckServices.insert(key);
  for (const auto& key : recheckServices) {
    Service s = st->services_.at(key);
    const Keys raw = st->rawVips_.contains(key) ? st->rawVips_.at(key) : s.vips;
    Keys problems;
    Keys kept = crossCheck<Keys>(
        raw, key, [&](const std::string& vip) { return st->vipClaimants(vip); },
        [](const std::string&) { return std::optional<std::string>(); }, problems,
        [&](const std::string& vip, const std::string& owner) { return vipTaken(key, vip, owner); });
    setOrErase(st->rawVips_, key, kept == raw ? Keys{} : raw);
    setOrErase(st->serviceProblems_, key, std::move(problems));
    if (kept != s.vips) {
      s.vips = std::move(kept);
      st->services_.insert_or_assign(key, std::move(s));
    }
  }

  // An address that became or stopped being a VIP changes what its workloads may claim.
  std::set<std::string> dirtyIps;
  for (const auto& vip : dirtyVips) {
    if (prev.serviceByVip_.contains(vip) == st->serviceByVip_.contains(vip)) continue;
    st->setIpClaimants(vip, st->ipClaimants(vip));  // stored as fits the new VIP status
    dirtyIps.insert(vip);
  }

  // Workloads, likewise: endpoints and IP claims out, then in; then recheck.
  std::set<std::string> recheckWorkloads;
  auto editEndpoints = [&](const std::string& svcKey, const std::string& uid, bool add) {
    Keys e = st->endpointsByService_.contains(svcKey) ? st->endpointsByService_.at(svcKey) : Keys{};
    if (add)
      insertSorted(e, uid);
    else
      eraseOne(e, uid);
    setOrErase(st->endpointsByService_, svcKey, std::move(e));
  };
  for (auto& [uid, w] : workloads_) {
    if (const Workload* old = st->workloads_.get(uid)) {
      for (const auto& [svcKey, ports] : old->services) editEndpoints(svcKey, uid, false);
      if (!old->hostNetwork) {
        const Keys raw = st->rawIps_.contains(uid) ? st->rawIps_.at(uid) : old->ips;
        for (const auto& ip : raw) {
          Keys c = st->ipClaimants(ip);
          eraseOne(c, uid);
          st->setIpClaimants(ip, std::move(c));
          dirtyIps.insert(ip);
        }
      }
      st->workloads_.erase(uid);
      st->rawIps_.erase(uid);
      st->workloadProblems_.erase(uid);
    }
    if (!w) continue;
    for (const auto& [svcKey, ports] : w->services) editEndpoints(svcKey, uid, true);
    if (!w->hostNetwork) {
      for (const auto& ip : w->ips) {
        Keys c = st->ipClaimants(ip);
        insertSorted(c, uid);
        st->setIpClaimants(ip, std::move(c));
        dirtyIps.insert(ip);
      }
      recheckWorkloads.insert(uid);
    }
    st->workloads_.insert_or_assign(uid, std::move(*w));  // with its IPs as given, until rechecked
  }
  for (const auto& ip : dirtyIps)
    for (const auto& uid : st->ipClaimants(ip)) recheckWorkloads.insert(uid);
  for (const auto& uid : recheckWorkloads) {
    Workload w = st->workloads_.at(uid);
    const Keys raw = st->rawIps_.contains(uid) ? st->rawIps_.at(uid) : w.ips;
    Keys problems;
    Keys kept = crossCheck<Keys>(
        raw, uid, [&](const std::string& ip) { return st->ipClaimants(ip); },
        [&](const std::string& ip) {
          return st->serviceByVip_.contains(ip) ? std::optional<std::string>(ipIsVip(uid, ip)) : std::nullopt;
        },
        problems, [&](const std::string& ip, const std::string& owner) { return ipTaken(uid, ip, owner); });
    setOrErase(st->rawIps_, uid, kept == raw ? Keys{} : raw);
    setOrErase(st->workloadProblems_, uid, std::move(problems));
    if (kept != w.ips) {
      w.ips = std::move(kept);
      st->workloads_.insert_or_assign(uid, std::move(w));
    }
  }
  return st;
}

std::vector<std::string> ClusterState::vipClaimants(const std::string& vip) const {
  if (const Keys* c = vipClaims_.get(vip)) return *c;
  if (const std::string* owner = serviceByVip_.get(vip)) return {*owner};
  return {};
}

std::vector<std::string> ClusterState::ipClaimants(const std::string& ip) const {
  if (const Keys* c = ipClaims_.get(ip)) return *c;
  if (const std::string* owner = uidByIp_.get(ip)) return {*owner};
  return {};
}

void ClusterState::setVipClaimants(const std::string& vip, Keys claimants) {
  if (claimants.empty())
    serviceByVip_.erase(vip);
  else if (const std::string* cur = serviceByVip_.get(vip); !cur || *cur != claimants.front())
    serviceByVip_.insert_or_assign(vip, claimants.front());
  if (claimants.size() >= 2)
    vipClaims_.insert_or_assign(vip, std::move(claimants));
  else
    vipClaims_.erase(vip);
}

void ClusterState::setIpClaimants(const std::string& ip, Keys claimants) {
  // A VIP is no workload's; its claimants are kept for when it stops being one.
  const bool isVip = serviceByVip_.contains(ip);
  if (isVip || claimants.empty())
    uidByIp_.erase(ip);
  else if (const std::string* cur = uidByIp_.get(ip); !cur || *cur != claimants.front())
    uidByIp_.insert_or_assign(ip, claimants.front());
  if (claimants.size() >= 2 || (isVip && !claimants.empty()))
    ipClaims_.insert_or_assign(ip, std::move(claimants));
  else
    ipClaims_.erase(ip);
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
  // Only a service of this state has endpoints (the index also holds names of
  // services not, or no longer, known).
  const Keys* uids = services_.contains(s.key()) ? endpointsByService_.get(s.key()) : nullptr;
  if (!uids) return out;
  for (const auto& uid : *uids) {
    const Workload* w = findWorkload(uid);
    if (w && w->ready && !w->ips.empty()) out.push_back(w);
  }
  return out;
}

std::vector<const AuthorizationPolicy*> ClusterState::policiesFor(const Workload& w) const {
  return policyIndex_ ? policyIndex_->forWorkload(w) : std::vector<const AuthorizationPolicy*>{};
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
