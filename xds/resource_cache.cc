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

// Converts everything first and touches the held resources only when all of it
// converted, so a rejected response leaves them exactly as they were.
Status ResourceCache::applyAddresses(const DeltaDiscoveryResponse& r) {
  std::vector<std::pair<std::string, AddressItem>> added;
  for (const auto& res : r.resources()) {
    auto msg = unpack<istio::workload::Address>(res, kAddressType);
    if (!msg) return msg.error();
    auto item = convertAddress(*msg, trustDomain_);
    if (!item) return withContext(item.error(), "resource " + res.name());
    added.emplace_back(res.name(), std::move(*item));
  }
  for (auto& [name, item] : added) addresses_.insert_or_assign(name, std::move(item));
  for (const auto& name : r.removed_resources()) addresses_.erase(name);
  return okStatus();
}

Status ResourceCache::applyAuthorizations(const DeltaDiscoveryResponse& r) {
  std::vector<std::pair<std::string, state::AuthorizationPolicy>> added;
  for (const auto& res : r.resources()) {
    auto msg = unpack<istio::security::Authorization>(res, kAuthorizationType);
    if (!msg) return msg.error();
    auto p = convertAuthorization(*msg);
    if (!p) return withContext(p.error(), "resource " + res.name());
    added.emplace_back(res.name(), std::move(*p));
  }
  for (auto& [name, p] : added) policies_.insert_or_assign(name, std::move(p));
  for (const auto& name : r.removed_resources()) policies_.erase(name);
  return okStatus();
}

ResourceCache::Outcome ResourceCache::apply(const DeltaDiscoveryResponse& r) {
  Outcome out;
  out.reply.set_type_url(r.type_url());
  out.reply.set_response_nonce(r.nonce());

  Status st = makeError("unsupported type " + r.type_url());
  if (r.type_url() == kAddressType) st = applyAddresses(r);
  if (r.type_url() == kAuthorizationType) st = applyAuthorizations(r);
  if (!st) {
    out.rejected = st.error();
    // google.rpc.Code INVALID_ARGUMENT, as Envoy sends on a rejected config.
    out.reply.mutable_error_detail()->set_code(3);
    out.reply.mutable_error_detail()->set_message(st.error().message);
    return out;
  }

  auto& versions = versions_[r.type_url()];
  for (const auto& res : r.resources()) versions[res.name()] = res.version();
  for (const auto& name : r.removed_resources()) versions.erase(name);
  out.state = buildState(addresses_, policies_, &out.warnings);
  return out;
}

std::map<std::string, std::string> ResourceCache::versions(const std::string& typeUrl) const {
  auto it = versions_.find(typeUrl);
  return it == versions_.end() ? std::map<std::string, std::string>{} : it->second;
}

}  // namespace warren::xds
