#pragma once
// The cluster as the node agent sees it, whatever the source (YAML directory now,
// the Kubernetes API later): plain values, converted at the edge.

#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace warren::source {

struct Namespace {
  std::string name;
  std::map<std::string, std::string> labels;
};

struct Pod {
  std::string uid, name, ns, serviceAccount, nodeName;
  std::map<std::string, std::string> labels;
  std::vector<std::string> ips;
};

struct Snapshot {
  std::map<std::string, Namespace> namespaces;  // by name
  std::map<std::string, Pod> pods;              // by "ns/name"
  // Problems with single files or objects; the rest of the snapshot is good.
  std::vector<Error> errors;
};

}  // namespace warren::source
