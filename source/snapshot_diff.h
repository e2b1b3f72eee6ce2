#pragma once
// Which objects of a Snapshot changed between two reads: what an incremental
// consumer (state/incremental_converter.h) re-converts instead of the whole.

#include <cstddef>
#include <map>
#include <string>

#include "source/cluster_types.h"

namespace warren::source {

enum class ObjectKind {
  Namespace,
  Pod,
  Service,
  EndpointSlice,
  AuthorizationPolicy,
  PeerAuthentication,
  RequestAuthentication,
  Gateway,
};
const char* kindName(ObjectKind kind);  // "Pod", as in the YAML's kind:

enum class Change { Added, Changed, Removed };

struct SnapshotDiff {
  // By kind, the keys (those of the Snapshot's maps) whose object changed.
  std::map<ObjectKind, std::map<std::string, Change>> keys;
  bool empty() const { return keys.empty(); }
  size_t size() const;
  void note(ObjectKind kind, const std::string& key, Change change);
  // The keys of one kind (an empty map when none changed).
  const std::map<std::string, Change>& of(ObjectKind kind) const;
};

// Object by object: what turns `before` into `after` (errors are not compared).
// For a source that only has whole views (the Kubernetes API's).
SnapshotDiff diffSnapshots(const Snapshot& before, const Snapshot& after);

}  // namespace warren::source
