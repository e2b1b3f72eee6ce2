#pragma once
// yaml-cpp lookups that never throw on a missing key, shared by the object parsers.

#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace warren::source {

// n[key] that never throws: yaml-cpp's const lookup of a missing key yields an
// invalid node that throws when indexed again. Absent keys come back Undefined
// (false in a condition), not Null.
inline YAML::Node at(const YAML::Node& n, const char* key) {
  const YAML::Node absent(YAML::NodeType::Undefined);
  if (!n || !n.IsMap()) return absent;
  YAML::Node child = n[key];
  return child ? child : absent;
}

inline std::string str(const YAML::Node& n, const std::string& fallback = "") {
  return n && n.IsScalar() ? n.as<std::string>() : fallback;
}

// A mapping of scalars (labels, selectors, annotations); non-scalar values read as "".
inline std::map<std::string, std::string> stringMap(const YAML::Node& n) {
  std::map<std::string, std::string> out;
  if (n && n.IsMap())
    for (const auto& kv : n) out[kv.first.as<std::string>()] = kv.second.IsScalar() ? kv.second.as<std::string>() : "";
  return out;
}

// Where a YAML object sits, for error messages.
struct Doc {
  const YAML::Node& node;
  const std::string& where;  // "file.yaml, line N"
};

}  // namespace warren::source
