#pragma once
// What a node agent keeps of the cluster: every namespace (their labels decide
// capture) and the pods of its own node, nothing else. The agent decides only
// for its node's pods, and a cluster of 100,000 pods must not cost every node
// the memory of all of them (issue 17). The Kubernetes API source asks the API
// for this node's pods only (fieldSelector spec.nodeName, resources.cc); the
// YAML directory is read whole, so its other objects are dropped file by file.

#include <string>

#include "source/cluster_types.h"
#include "source/dir_reader.h"

namespace warren::source {

// A pod the agent of `nodeName` keeps: one scheduled there, or one with no
// spec.nodeName (the standalone directory often omits it: any node's), or any
// pod when the agent has no node name. As decideEnrollment reads nodeName.
bool keptOnNode(const Pod& pod, const std::string& nodeName);

// Drops from `s` the pods of other nodes and every kind the agent does not read
// (services, endpoint slices, policies, gateways); keeps namespaces and errors.
void keepNodeView(Snapshot& s, const std::string& nodeName);

// The directory read as the agent of `nodeName` needs it (loadDirectory with
// keepNodeView after each file).
Result<Snapshot> loadNodeView(const std::string& dir, const std::string& nodeName);

// The same view, read again and again: a reader that holds only the node's view
// and parses only the files that changed since its last read, so a pod written
// anywhere in the cluster does not cost every node's agent a parse of the whole
// directory (issue 17).
DirectoryReader nodeViewReader(const std::string& dir, const std::string& nodeName);

}  // namespace warren::source
