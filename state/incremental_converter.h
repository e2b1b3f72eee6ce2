#pragma once
// A source::Snapshot -> the state, one change at a time (issue 17): given which
// objects of the snapshot changed (source/snapshot_diff.h), only the state objects
// that depend on them are converted again and applied through
// ClusterState::Builder(previous). The result, its lookups and its notes are those
// of stateFromSnapshot on the same snapshot
// (tests/unit/state/incremental_converter_test.cc checks that after every step).
//
// What a change reaches:
//   Pod                    its workload (and another pod of the same uid)
//   Service                itself, the pods of its namespace its old or new selector
//                          picks, the pods at its EndpointSlices' addresses
//   EndpointSlice          the pods at its old and new addresses
//   AuthorizationPolicy    itself (L4 and waypoint forms); a selector policy also the
//                          pods of its namespace it selected or selects (all
//                          namespaces' from the root namespace)
//   RequestAuthentication  itself
//   Namespace              its pods and services (enrollment, waypoint label)
//   Gateway, PeerAuthentication, a Service that is a waypoint: whole build. Their
//   reach is wide (every binding to a waypoint, every pod's mTLS mode) and they
//   change rarely; Counters::whole counts these.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "source/cluster_types.h"
#include "source/snapshot_diff.h"
#include "state/cluster_state.h"
#include "state/from_snapshot.h"
#include "state/snapshot_conversion.h"

namespace warren::state {

class IncrementalConverter {
 public:
  explicit IncrementalConverter(SnapshotOptions options) : options_(std::move(options)) {}

  // `snapshot` is the source's view after `changes`. The first call builds whole.
  // *notes gets every note of the new state (as stateFromSnapshot's), not only
  // the changed objects'.
  ClusterStatePtr apply(const source::Snapshot& snapshot, const source::SnapshotDiff& changes,
                        std::vector<Error>* notes = nullptr);
  // Forgets the previous state: the next apply() builds whole.
  void reset() { state_.reset(); }

  struct Counters {
    uint64_t whole = 0;            // whole builds (the first, and the wide kinds above)
    uint64_t incremental = 0;      // changes applied object by object
    size_t lastPodsConverted = 0;  // by the last apply()
  };
  const Counters& counters() const { return counters_; }

 private:
  struct PodInfo {
    std::string ns, uid;
    std::vector<std::string> ips;
  };
  struct SliceInfo {
    std::string service;        // "ns/name" of the Service it serves
    std::set<std::string> ips;  // every address it lists, ready or not
  };
  struct PolicyInfo {
    std::string ns, stateKey;  // stateKey: the L4 form's key, "" when not converted
    std::string l7Key;         // the waypoint form's, "" when none
    bool selectorScoped = false;
    source::Selector selector;
  };
  using Notes = std::map<std::string, std::vector<std::string>>;  // object key -> its notes

  ClusterStatePtr buildWhole(const source::Snapshot& snapshot, std::vector<Error>* problems);
  bool needsWhole(const source::Snapshot& snapshot, const source::SnapshotDiff& changes) const;

  void indexPod(const std::string& key, const source::Pod* pod);
  void indexSlice(const std::string& key, const source::EndpointSlice* slice);
  void indexService(const std::string& key, const source::Service* svc);
  void convertPolicy(const std::string& key, const source::AuthorizationPolicy* in, ClusterState::Builder& b);
  void convertAuthn(const std::string& key, const source::RequestAuthentication* in, ClusterState::Builder& b);
  void convertService(const source::Snapshot& snapshot, const std::string& key, ClusterState::Builder& b);
  Workload convertPod(const source::Snapshot& snapshot, const std::string& key, const source::Pod& pod,
                      std::vector<std::string>* notes) const;
  std::vector<Error> assembleNotes(std::vector<Error> problems) const;

  const SnapshotOptions options_;
  ClusterStatePtr state_;
  snapshot_conversion::Waypoints waypoints_;
  Counters counters_;

  // The previous snapshot's shape, so that a change finds what depends on it
  // without scanning the cluster.
  std::map<std::string, std::set<std::string>> podsByNs_;                       // ns -> pod keys
  std::map<std::string, std::set<std::string>> podsByIp_;                       // IP -> pod keys
  std::map<std::string, std::set<std::string>> podsByUid_;                      // workload uid -> pod keys
  std::map<std::string, PodInfo> pods_;                                         // pod key -> as last indexed
  std::map<std::string, std::set<std::string>> servicesByNs_;                   // ns -> Service keys
  std::map<std::string, std::map<std::string, std::string>> serviceSelectors_;  // Service key -> its selector
  std::map<std::string, std::set<std::string>> slicesByService_;                // "ns/name" -> slice keys
  std::map<std::string, std::set<std::string>> slicesByIp_;                     // IP -> slice keys
  std::map<std::string, SliceInfo> slices_;
  std::map<std::string, PolicyInfo> policies_;
  // ns -> selector-scoped L4 policies there (state key -> selector), for pods.
  std::map<std::string, std::map<std::string, source::Selector>> selectorPolicies_;

  // Notes by object, in the whole build's order when assembled.
  Notes policyNotes_, waypointPolicyNotes_, authnNotes_, serviceNotes_, podNotes_;
};

}  // namespace warren::state
