#pragma once
// The standalone source's edge: a YAML directory snapshot -> the tunnel's state.

#include <string>
#include <vector>

#include "agent/source/cluster_types.h"
#include "ztunnel/state/cluster_state.h"

namespace warren::state {

struct SnapshotOptions {
  std::string trustDomain = "cluster.local";
  // Istio's root namespace: its policies without a selector apply mesh-wide.
  std::string rootNamespace = "istio-system";
  std::string clusterDomain = "cluster.local";  // service hostnames: name.ns.svc.<domain>
};

// Problems (skipped or converted objects) are appended to *notes, one line each.
ClusterStatePtr stateFromSnapshot(const source::Snapshot& snapshot, const SnapshotOptions& options,
                                  std::vector<Error>* notes = nullptr);

}  // namespace warren::state
