#pragma once
// The churn phase of warren-hbone-bench (issue 17): new-connection latency through
// the mesh while the cluster state changes at a steady rate, against the same
// measurement with the state quiet, at the bench's small state and again with a
// large background (pods, services and policies on nodes that are not these two).
// Each change is one object edited in its own file of the cluster's YAML
// directory, as an operator's tooling or a controller writes them; both tunnels
// read that directory. The directory watcher gathers changes that come within
// 50 ms into one new state, so 100 changes a second reach a tunnel as about 20.

#include <string>

#include "tests/support/cluster.h"

namespace warren::bench {

struct ChurnOptions {
  int changesPerSecond = 100;
  int background = 10000;  // pods in the large state (+10% services, +1% policies)
  int connections = 2000;  // new connections per measurement
};

// Prints the table; 0 when every measurement ran, 1 when the cluster would not
// take the background state.
int measureChurn(const ChurnOptions& o, e2e::TestNode& n1, e2e::TestNode& n2, const e2e::Pod& client,
                 const e2e::Pod& server, uint16_t port);

}  // namespace warren::bench
