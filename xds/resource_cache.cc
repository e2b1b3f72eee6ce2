#include "xds/resource_cache.h"

#include <algorithm>
#include <array>
#include <type_traits>
#include <variant>

#include <spdlog/spdlog.h>

#include "istio/security/authorization.pb.h"
#include "istio/workload/workload.pb.h"

namespace warren::xds {

namespace {

using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::Resource;

// Decodes one resource's body as `Msg`, checking it is what the response says.
template <typename Msg>
Result<Msg> unpack(const Resource& r, const std::string& typeUrl) {
  if (r.name().empty()) return makeError("a resource without a name");
  // Built on an error only: a first push has 100,000 resources.
  auto where = [&] { return "resource " + r.name(); };
  if (!r.has_resource()) return makeError(where() + ": no body");
  if (r.resource().type_url() != typeUrl)
    return makeError(where() + ": body is " + r.resource().type_url() + ", want " + typeUrl);
  Msg msg;
  if (!r.resource().UnpackTo(&msg)) return makeError(where() + ": body does not decode as " + typeUrl);
  return msg;
}

}  // namespace

// Per resource, as ztunnel: what converts is applied (with its version), what
// does not is named in the NACK and keeps its previous version held, so one bad
// object never freezes every other update.
namespace {

const std::string& itemKey(const AddressItem& item) {
  if (const auto* w = std::get_if<state::Workload>(&item)) return w->uid;
  static thread_local std::string key;
  key = std::get<state::Service>(item).key();
  return key;
}

const std::string& itemWaypoint(const AddressItem& item) {
  return std::visit([](const auto& v) -> const std::string& { return v.waypoint; }, item);
}

}  // namespace

void ResourceCache::countAlias(const std::string& name, const AddressItem& item, int delta) {
  if (itemKey(item) != name) aliased_ += delta;
}

void ResourceCache::indexWaypointUser(const std::string& name, const AddressItem& item, bool add) {
  const std::string& wp = itemWaypoint(item);
  if (wp.empty()) return;
  auto ip = waypointAddressIp(wp);
  auto& index = ip ? waypointUsersByIp_ : waypointUsersByKey_;
  const std::string& by = ip ? *ip : wp;
  if (add) {
    index[by].insert(name);
  } else if (auto it = index.find(by); it != index.end()) {
    it->second.erase(name);
    if (it->second.empty()) index.erase(it);
  }
}

const state::Service* ResourceCache::heldService(const HeldAddress& held) {
  const auto* s = std::get_if<std::shared_ptr<const state::Service>>(&held.item);
  return s ? s->get() : nullptr;
}

AddressItem ResourceCache::itemOf(const std::string& name, const HeldAddress& held) const {
  if (auto it = fresh_.find(name); it != fresh_.end()) return freshItems_[it->second];
  if (const auto* s = heldService(held)) return *s;
  istio::workload::Address msg;
  auto item = msg.ParseFromString(std::get<WorkloadBytes>(held.item).address)
                  ? convertAddress(msg, trustDomain_)
                  : Result<AddressItem>(makeError("does not parse"));
  // It converted when it arrived, and converting is pure: a failure here is a bug.
  if (!item) {
    spdlog::critical("BUG: held Address resource {} no longer converts: {}", name, item.error().message);
    std::abort();
  }
  return std::move(*item);
}

std::vector<std::string> ResourceCache::applyAddresses(const DeltaDiscoveryResponse& r, AddressChanges& changed) {
  // Records a name's item before its first change in this response, and keeps
  // the alias count and the waypoint index in step with what is held.
  // `bytes` and `version`: the resource's, with `next`.
  auto replace = [&](const std::string& name, std::optional<AddressItem> next, const std::string* bytes,
                     const std::string* version) {
    // A name past the last held (every name of a first push, which comes in
    // name order) needs no search.
    auto it = addresses_.empty() || addresses_.rbegin()->first < name ? addresses_.end() : addresses_.find(name);
    std::unique_ptr<const AddressItem> before;
    // A name's second change in one response keeps the first's item before.
    if (it != addresses_.end()) {
      before = std::make_unique<const AddressItem>(itemOf(name, it->second));
      countAlias(name, *before, -1);
      indexWaypointUser(name, *before, false);
    }
    // Hinted: responses come in name order.
    changed.try_emplace(changed.end(), name, std::move(before));
    if (next) {
      countAlias(name, *next, 1);
      indexWaypointUser(name, *next, true);
      HeldAddress held;
      if (std::holds_alternative<state::Workload>(*next))
        held.item = WorkloadBytes{*bytes};
      else
        held.item = std::make_shared<const state::Service>(std::get<state::Service>(*next));
      held.version = *version;
      auto at = addresses_.insert_or_assign(it, name, std::move(held));  // hinted: end() when new and last
      freshItems_.push_back(std::move(*next));
      fresh_.insert_or_assign(fresh_.end(), std::string_view(at->first), freshItems_.size() - 1);
    } else {
      fresh_.erase(name);  // first: its key is a view of the entry erased next
      if (it != addresses_.end()) addresses_.erase(it);
    }
  };
  std::vector<std::string> errors;
  for (const auto& res : r.resources()) {
    auto msg = unpack<istio::workload::Address>(res, kAddressType);
    if (!msg) {
      errors.push_back(msg.error().message);  // unpack names the resource
      continue;
    }
    auto item = convertAddress(*msg, trustDomain_);
    if (!item) {
      errors.push_back(withContext(item.error(), "resource " + res.name()).message);
      continue;
    }
    replace(res.name(), std::move(*item), &res.resource().value(), &res.version());
  }
  for (const auto& name : r.removed_resources()) replace(name, std::nullopt, nullptr, nullptr);
  return errors;
}

namespace {

// A policy that cannot be read, in place of what it would have been: whatever
// its scope selects is denied until a valid version arrives (fail closed: a
// missing ALLOW or DENY policy would let through what its author meant to stop).
std::optional<state::AuthorizationPolicy> denyAllInPlaceOf(const istio::security::Authorization& a,
                                                           const std::string& why) {
  if (a.name().empty() || a.namespace_().empty()) return std::nullopt;
  state::AuthorizationPolicy p;
  p.name = a.name();
  p.ns = a.namespace_();
  p.scope = a.scope() == istio::security::GLOBAL              ? state::PolicyScope::Global
            : a.scope() == istio::security::WORKLOAD_SELECTOR ? state::PolicyScope::WorkloadSelector
                                                              : state::PolicyScope::Namespace;
  p.enforceAsDenyAll("invalid (" + why + "): enforced as deny-all until fixed");
  return p;
}

}  // namespace

std::vector<std::string> ResourceCache::applyAuthorizations(const DeltaDiscoveryResponse& r,
                                                            std::set<std::string>& changed) {
  auto replace = [&](const std::string& name, std::optional<state::AuthorizationPolicy> next) {
    changed.insert(name);
    if (auto it = policies_.find(name); it != policies_.end()) {
      if (it->second.key() != name) --aliased_;
      policies_.erase(it);
    }
    if (next) {
      if (next->key() != name) ++aliased_;
      policies_.emplace(name, std::move(*next));
    }
  };
  std::vector<std::string> errors;
  auto& versions = versions_[kAuthorizationType];
  for (const auto& res : r.resources()) {
    auto msg = unpack<istio::security::Authorization>(res, kAuthorizationType);
    if (!msg) {
      errors.push_back(msg.error().message);  // unpack names the resource
      continue;
    }
    auto p = convertAuthorization(*msg);
    if (!p) {
      errors.push_back(withContext(p.error(), "resource " + res.name()).message);
      if (auto placeholder = denyAllInPlaceOf(*msg, p.error().message)) {
        replace(res.name(), std::move(*placeholder));
        versions.erase(res.name());  // held at no version: a reconnect asks for it again
      }
      continue;
    }
    replace(res.name(), std::move(*p));
    versions[res.name()] = res.version();
  }
  for (const auto& name : r.removed_resources()) {
    if (policies_.count(name)) replace(name, std::nullopt);
    versions.erase(name);
  }
  return errors;
}

ResourceCache::Outcome ResourceCache::apply(const DeltaDiscoveryResponse& r) {
  Outcome out;
  out.reply.set_type_url(r.type_url());
  out.reply.set_response_nonce(r.nonce());

  std::vector<std::string> errors;
  AddressChanges addressChanges;
  std::set<std::string> policyChanges;
  if (r.type_url() == kAddressType) {
    errors = applyAddresses(r, addressChanges);
  } else if (r.type_url() == kAuthorizationType) {
    errors = applyAuthorizations(r, policyChanges);
  } else {
    out.rejected = makeError("unsupported type " + r.type_url());
  }
  if (!out.rejected && !errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
    out.rejected = makeError(std::to_string(errors.size()) + " of " + std::to_string(r.resources_size()) +
                             " resources rejected: " + all);
  }
  if (out.rejected) {
    // google.rpc.Code INVALID_ARGUMENT, as Envoy sends on a rejected config.
    out.reply.mutable_error_detail()->set_code(3);
    out.reply.mutable_error_detail()->set_message(out.rejected->message);
  }
  if (r.type_url() == kAddressType || r.type_url() == kAuthorizationType)
    out.state = rebuild(addressChanges, policyChanges, &out.warnings);
  fresh_.clear();
  freshItems_ = {};
  return out;
}

state::ClusterStatePtr ResourceCache::buildWhole(std::vector<Error>* warnings) {
  // Every item, moved into the state (a first push: the response's own, whole).
  std::map<std::string, AddressItem> all;
  for (const auto& [name, held] : addresses_) {
    auto f = fresh_.find(name);
    all.emplace_hint(all.end(), name, f != fresh_.end() ? std::move(freshItems_[f->second]) : itemOf(name, held));
  }
  fresh_.clear();  // moved from
  freshItems_ = {};
  // Those naming a waypoint, as named (the state holds it resolved): name, object, waypoint.
  std::vector<std::array<std::string, 3>> naming;
  for (const auto& [name, item] : all)
    if (const std::string& wp = itemWaypoint(item); !wp.empty())
      naming.push_back(
          {name,
           std::holds_alternative<state::Workload>(item) ? "workload " + itemKey(item) : "service " + itemKey(item),
           wp});
  state_ = buildState(std::move(all), policies_, warnings);
  // The waypoint warnings as the whole build gave them, so that later
  // incremental builds can report every one without resolving every object.
  waypointWarnings_.clear();
  for (const auto& [name, what, wp] : naming) {
    auto r = resolveWaypoint(
        wp, what,
        [&](const std::string& ip) -> std::optional<std::string> {
          const auto* s = state_->findServiceByVip(ip);
          return s ? std::optional<std::string>(s->key()) : std::nullopt;
        },
        [&](const std::string& key) { return state_->findService(key) != nullptr; });
    if (!r.warning.empty()) waypointWarnings_[name] = std::move(r.warning);
  }
  return state_;
}

state::ClusterStatePtr ResourceCache::rebuild(const AddressChanges& addresses, const std::set<std::string>& policies,
                                              std::vector<Error>* warnings) {
  // A response that changes much of what is held (a reconnect's full resend)
  // builds faster whole: each incremental change copies a chunk.
  const size_t held = addresses_.size() + policies_.size();
  const bool large = addresses.size() + policies.size() > std::max<size_t>(1024, held / 8);
  if (!state_ || aliased_ > 0 || wholeNext_ || large) {
    // Built with aliases held, the waypoint warnings kept for later follow the
    // whole build's reading of them: one more whole build once they are gone.
    wholeNext_ = aliased_ > 0;
    return buildWhole(warnings);
  }
  const state::ClusterState& prev = *state_;

  // The services this response changes, and the VIPs they held or hold: the
  // owner of those VIPs may change, and with it the waypoints named by them.
  std::set<std::string> changedServices, touchedVips;
  for (const auto& [name, before] : addresses) {
    auto add = [&](const state::Service* s) {
      if (!s) return;
      changedServices.insert(s->key());
      touchedVips.insert(s->vips.begin(), s->vips.end());
    };
    if (before) add(std::get_if<state::Service>(before.get()));
    if (auto now = addresses_.find(name); now != addresses_.end()) add(heldService(now->second));
  }
  // A VIP's owner after the response: the first by key of the services claiming
  // it, the unchanged ones as the previous state knows them.
  auto vipOwner = [&](const std::string& ip) -> std::optional<std::string> {
    std::optional<std::string> owner;
    auto consider = [&](const std::string& key) {
      if (!owner || key < *owner) owner = key;
    };
    for (const auto& key : prev.vipClaimants(ip))
      if (!changedServices.count(key)) consider(key);
    if (touchedVips.count(ip))
      for (const auto& key : changedServices)
        if (auto it = addresses_.find(key); it != addresses_.end())
          if (const auto* s = heldService(it->second))
            if (std::find(s->vips.begin(), s->vips.end(), ip) != s->vips.end()) consider(key);
    return owner;
  };
  auto serviceExists = [&](const std::string& key) {
    auto it = addresses_.find(key);
    return it != addresses_.end() && heldService(it->second) != nullptr;
  };

  // Whose waypoint to resolve again: the changed objects, and those naming a
  // touched VIP or a changed service.
  std::set<std::string> resolveAgain;
  for (const auto& [name, before] : addresses) resolveAgain.insert(name);
  for (const auto& vip : touchedVips)
    if (auto it = waypointUsersByIp_.find(vip); it != waypointUsersByIp_.end())
      resolveAgain.insert(it->second.begin(), it->second.end());
  for (const auto& key : changedServices)
    if (auto it = waypointUsersByKey_.find(key); it != waypointUsersByKey_.end())
      resolveAgain.insert(it->second.begin(), it->second.end());

  state::ClusterState::Builder b(state_);
  for (const auto& name : resolveAgain) {
    auto it = addresses_.find(name);
    if (it == addresses_.end()) {  // removed
      waypointWarnings_.erase(name);
      const auto& before = addresses.at(name);
      if (before)
        b.remove(std::holds_alternative<state::Workload>(*before) ? state::ClusterState::Builder::Kind::Workload
                                                                  : state::ClusterState::Builder::Kind::Service,
                 name);
      continue;
    }
    const bool changed = addresses.count(name) != 0;
    if (changed) {
      // A name that turned from a workload into a service (or back) drops what it was.
      const auto& before = addresses.at(name);
      if (before && before->index() != it->second.item.index())
        b.remove(std::holds_alternative<state::Workload>(*before) ? state::ClusterState::Builder::Kind::Workload
                                                                  : state::ClusterState::Builder::Kind::Service,
                 name);
    }
    const AddressItem current = itemOf(name, it->second);
    std::visit(
        [&](const auto& item) {
          using T = std::decay_t<decltype(item)>;
          constexpr bool isWorkload = std::is_same_v<T, state::Workload>;
          std::string key;
          if constexpr (isWorkload)
            key = item.uid;
          else
            key = item.key();
          auto r =
              resolveWaypoint(item.waypoint, (isWorkload ? "workload " : "service ") + key, vipOwner, serviceExists);
          if (r.warning.empty())
            waypointWarnings_.erase(name);
          else
            waypointWarnings_[name] = std::move(r.warning);
          const std::string* held = nullptr;
          if constexpr (isWorkload) {
            if (const auto* w = prev.findWorkload(key)) held = &w->waypoint.str();
          } else {
            if (const auto* s = prev.findService(key)) held = &s->waypoint;
          }
          // An unchanged object is added again only when its waypoint now resolves otherwise.
          if (!changed && held && *held == r.key) return;
          T copy = item;
          copy.waypoint = std::move(r.key);
          b.add(std::move(copy));
        },
        current);
  }
  for (const auto& name : policies) {
    if (auto it = policies_.find(name); it != policies_.end())
      b.add(it->second);
    else
      b.remove(state::ClusterState::Builder::Kind::Policy, name);
  }

  // Every warning of the new state, in the order the whole build gives them.
  if (warnings) {
    for (const auto& [name, w] : waypointWarnings_) warnings->push_back(makeError(w));
    for (const auto& [name, p] : policies_)
      for (const auto& n : p.conversionNotes)
        warnings->push_back(makeError("AuthorizationPolicy " + p.key() + ": " + n));
  }
  state_ = b.finish(warnings);
  return state_;
}

std::map<std::string, std::string> ResourceCache::versions(const std::string& typeUrl) const {
  if (typeUrl == kAddressType) {
    std::map<std::string, std::string> out;
    for (const auto& [name, held] : addresses_) out.emplace_hint(out.end(), name, held.version);
    return out;
  }
  auto it = versions_.find(typeUrl);
  return it == versions_.end() ? std::map<std::string, std::string>{} : it->second;
}

}  // namespace warren::xds
