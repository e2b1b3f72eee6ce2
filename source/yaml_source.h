#pragma once
// The standalone source: a directory of Kubernetes-style YAML, as operators write it.

#include <string>

#include "source/cluster_types.h"

namespace YAML {
class Node;
}

namespace warren::source {

// Loads every *.yaml / *.yml file (not hidden ones, not editor temp files).
// Only an unreadable directory fails the call; bad files and objects land in
// Snapshot::errors, each naming the file, and everything else still loads.
Result<Snapshot> loadDirectory(const std::string& dir);

// One file's text (for tests and callers with in-memory YAML).
void loadDocuments(const std::string& text, const std::string& fileName, Snapshot& into);

// One object (a YAML document, or a JSON object from the Kubernetes API: yaml-cpp
// reads both) into the snapshot: the single conversion every source shares. Kinds
// and API versions it does not read are skipped; a bad object lands in
// into.errors, named by `where`.
void convertObject(const YAML::Node& node, const std::string& where, Snapshot& into);

}  // namespace warren::source
