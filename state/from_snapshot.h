#pragma once
// The standalone sources' edge: a snapshot (a YAML directory's, or the Kubernetes
// API's) -> the tunnel's state.

#include <string>
#include <vector>

#include "common/repeat_filter.h"
#include "source/cluster_types.h"
#include "state/cluster_state.h"

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

// stateFromSnapshot, each problem of the snapshot and of the conversion logged
// as one warning (the Kubernetes API source's snapshots, a directory's). With a
// `repeats` filter kept across rebuilds, a problem already logged by an earlier
// rebuild is not logged again while it stands (common/repeat_filter.h).
ClusterStatePtr stateFromSnapshotLogged(const source::Snapshot& snapshot, const SnapshotOptions& options,
                                        RepeatFilter* repeats = nullptr);

// The logging half of stateFromSnapshotLogged, for a state built otherwise
// (state/incremental_converter.h): the snapshot's problems, then `notes`.
void logProblems(const source::Snapshot& snapshot, const std::vector<Error>& notes, RepeatFilter* repeats = nullptr);

// The standalone source end to end: reads the YAML directory and builds the state,
// logging each problem of the files and the conversion as one warning (`repeats`
// as above). An error only when the directory cannot be read (keep the last good
// state then).
Result<ClusterStatePtr> stateFromDirectory(const std::string& dir, const SnapshotOptions& options,
                                           RepeatFilter* repeats = nullptr);

}  // namespace warren::state
