#pragma once
// The standalone source: a directory of Kubernetes-style YAML, as operators write it.

#include <functional>
#include <string>
#include <vector>

#include "source/cluster_types.h"

namespace YAML {
class Node;
}

namespace warren::source {

// Loads every *.yaml / *.yml file (not hidden ones, not editor temp files).
// Only an unreadable directory fails the call; bad files and objects land in
// Snapshot::errors, each naming the file, and everything else still loads.
// `afterEachFile`, when set, runs on the snapshot after each file is read: a
// reader that keeps only part of the cluster drops the rest as it goes, so the
// whole cluster is never held at once (node_view.h).
Result<Snapshot> loadDirectory(const std::string& dir, const std::function<void(Snapshot&)>& afterEachFile = nullptr);

// The paths of the files loadDirectory reads, in the order it reads them (sorted:
// of two objects with one key, the first file's wins).
Result<std::vector<std::string>> listConfigFiles(const std::string& dir);

// One file's text (for tests and callers with in-memory YAML).
void loadDocuments(const std::string& text, const std::string& fileName, Snapshot& into);

// One object (a YAML document, or a JSON object from the Kubernetes API: yaml-cpp
// reads both) into the snapshot: the single conversion every source shares. Kinds
// and API versions it does not read are skipped; a bad object lands in
// into.errors, named by `where`.
void convertObject(const YAML::Node& node, const std::string& where, Snapshot& into);

}  // namespace warren::source
