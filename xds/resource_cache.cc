#include "xds/resource_cache.h"

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
  const std::string where = "resource " + r.name();
  if (!r.has_resource()) return makeError(where + ": no body");
  if (r.resource().type_url() != typeUrl)
    return makeError(where + ": body is " + r.resource().type_url() + ", want " + typeUrl);
  Msg msg;
  if (!r.resource().UnpackTo(&msg)) return makeError(where + ": body does not decode as " + typeUrl);
  return msg;
}

}  // namespace

// Per resource, as ztunnel: what converts is applied (with its version), what
// does not is named in the NACK and keeps its previous version held, so one bad
// object never freezes every other update.
std::vector<std::string> ResourceCache::applyAddresses(const DeltaDiscoveryResponse& r) {
  std::vector<std::string> errors;
  auto& versions = versions_[kAddressType];
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
    addresses_.insert_or_assign(res.name(), std::move(*item));
    versions[res.name()] = res.version();
  }
  for (const auto& name : r.removed_resources()) {
    addresses_.erase(name);
    versions.erase(name);
  }
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

std::vector<std::string> ResourceCache::applyAuthorizations(const DeltaDiscoveryResponse& r) {
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
        policies_.insert_or_assign(res.name(), std::move(*placeholder));
        versions.erase(res.name());  // held at no version: a reconnect asks for it again
      }
      continue;
    }
    policies_.insert_or_assign(res.name(), std::move(*p));
    versions[res.name()] = res.version();
  }
  for (const auto& name : r.removed_resources()) {
    policies_.erase(name);
    versions.erase(name);
  }
  return errors;
}

ResourceCache::Outcome ResourceCache::apply(const DeltaDiscoveryResponse& r) {
  Outcome out;
  out.reply.set_type_url(r.type_url());
  out.reply.set_response_nonce(r.nonce());

  std::vector<std::string> errors;
  if (r.type_url() == kAddressType) {
    errors = applyAddresses(r);
  } else if (r.type_url() == kAuthorizationType) {
    errors = applyAuthorizations(r);
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
    out.state = buildState(addresses_, policies_, &out.warnings);
  return out;
}

std::map<std::string, std::string> ResourceCache::versions(const std::string& typeUrl) const {
  auto it = versions_.find(typeUrl);
  return it == versions_.end() ? std::map<std::string, std::string>{} : it->second;
}

}  // namespace warren::xds
