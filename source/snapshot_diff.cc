#include "source/snapshot_diff.h"

namespace warren::source {
namespace {

template <typename T>
void diffMaps(ObjectKind kind, const std::map<std::string, T>& before, const std::map<std::string, T>& after,
              SnapshotDiff& out) {
  for (const auto& [key, obj] : before) {
    auto it = after.find(key);
    if (it == after.end())
      out.note(kind, key, Change::Removed);
    else if (!(it->second == obj))
      out.note(kind, key, Change::Changed);
  }
  for (const auto& [key, obj] : after)
    if (!before.count(key)) out.note(kind, key, Change::Added);
}

}  // namespace

const char* kindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::Namespace: return "Namespace";
    case ObjectKind::Pod: return "Pod";
    case ObjectKind::Service: return "Service";
    case ObjectKind::EndpointSlice: return "EndpointSlice";
    case ObjectKind::AuthorizationPolicy: return "AuthorizationPolicy";
    case ObjectKind::PeerAuthentication: return "PeerAuthentication";
    case ObjectKind::RequestAuthentication: return "RequestAuthentication";
    case ObjectKind::Gateway: return "Gateway";
  }
  return "?";
}

size_t SnapshotDiff::size() const {
  size_t n = 0;
  for (const auto& [kind, keys] : keys) n += keys.size();
  return n;
}

void SnapshotDiff::note(ObjectKind kind, const std::string& key, Change change) { keys[kind][key] = change; }

const std::map<std::string, Change>& SnapshotDiff::of(ObjectKind kind) const {
  static const std::map<std::string, Change> none;
  auto it = keys.find(kind);
  return it == keys.end() ? none : it->second;
}

SnapshotDiff diffSnapshots(const Snapshot& before, const Snapshot& after) {
  SnapshotDiff d;
  diffMaps(ObjectKind::Namespace, before.namespaces, after.namespaces, d);
  diffMaps(ObjectKind::Pod, before.pods, after.pods, d);
  diffMaps(ObjectKind::Service, before.services, after.services, d);
  diffMaps(ObjectKind::EndpointSlice, before.endpointSlices, after.endpointSlices, d);
  diffMaps(ObjectKind::AuthorizationPolicy, before.authorizationPolicies, after.authorizationPolicies, d);
  diffMaps(ObjectKind::PeerAuthentication, before.peerAuthentications, after.peerAuthentications, d);
  diffMaps(ObjectKind::RequestAuthentication, before.requestAuthentications, after.requestAuthentications, d);
  diffMaps(ObjectKind::Gateway, before.gateways, after.gateways, d);
  return d;
}

}  // namespace warren::source
