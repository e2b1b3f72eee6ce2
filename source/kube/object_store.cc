#include "source/kube/object_store.h"

#include "source/yaml_source.h"
#include "source/yaml_util.h"

namespace warren::source::kube {

std::string objectKey(const YAML::Node& object) {
  const YAML::Node md = at(object, "metadata");
  const std::string name = str(at(md, "name"));
  if (name.empty()) return "";
  const std::string ns = str(at(md, "namespace"));
  return ns.empty() ? name : ns + "/" + name;
}

void stampKind(YAML::Node& object, const ResourceType& type) {
  if (!object.IsMap()) return;
  if (str(at(object, "kind")).empty()) object["kind"] = type.kind;
  if (str(at(object, "apiVersion")).empty()) object["apiVersion"] = type.apiVersion;
}

bool applyEvent(ObjectMap& objects, const WatchEvent& event, const ResourceType& type) {
  using T = WatchEvent::Type;
  if (event.type != T::Added && event.type != T::Modified && event.type != T::Deleted) return false;
  const std::string key = objectKey(event.object);
  if (key.empty()) return false;
  if (event.type == T::Deleted) return objects.erase(key) > 0;
  YAML::Node object = event.object;
  stampKind(object, type);
  objects[key] = object;
  return true;
}

Snapshot buildSnapshot(const std::vector<ResourceType>& types, const std::vector<ObjectMap>& objects) {
  Snapshot s;
  for (size_t i = 0; i < types.size() && i < objects.size(); ++i)
    for (const auto& [key, object] : objects[i]) convertObject(object, types[i].name + " " + key, s);
  return s;
}

}  // namespace warren::source::kube
