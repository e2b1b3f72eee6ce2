#pragma once
// The objects of each watched resource as last seen, and the cluster Snapshot
// made from them by the YAML source's own conversion (pure; no I/O).

#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "source/cluster_types.h"
#include "source/kube/resources.h"
#include "source/kube/watch_stream.h"

namespace warren::source::kube {

// By "namespace/name" (just "name" for cluster-scoped objects).
using ObjectMap = std::map<std::string, YAML::Node>;

// The object's key; "" when it has no metadata.name.
std::string objectKey(const YAML::Node& object);

// List items come without kind and apiVersion (the list carries them); the
// conversion needs them, so they are set from the resource's table entry.
void stampKind(YAML::Node& object, const ResourceType& type);

// ADDED / MODIFIED / DELETED applied to the map; true when the view changed.
// BOOKMARK and ERROR change nothing here.
bool applyEvent(ObjectMap& objects, const WatchEvent& event, const ResourceType& type);

// Every object converted as the YAML source converts a document. Objects that
// cannot be used (an IP that is not one) are left out and reported in
// Snapshot::errors, named "<resource> <key>".
Snapshot buildSnapshot(const std::vector<ResourceType>& types, const std::vector<ObjectMap>& objects);

}  // namespace warren::source::kube
