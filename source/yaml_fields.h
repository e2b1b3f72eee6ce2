#pragma once
// Field validation shared by the parsers of Istio objects (AuthorizationPolicy,
// RequestAuthentication, ...): every unknown or ill-typed field is recorded with
// its line, as kubectl's strict field validation warns, because a silently
// dropped field leaves a policy broader than its author wrote.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "source/cluster_types.h"
#include "source/yaml_util.h"

namespace warren::source {

// Fills obj's name and namespace from metadata; returns its "ns/name" key.
template <typename T>
std::string identify(const Doc& d, T& obj) {
  const YAML::Node md = at(d.node, "metadata");
  obj.ns = str(at(md, "namespace"), "default");
  obj.name = str(at(md, "name"));
  return obj.ns + "/" + obj.name;
}

// Duplicates keep the first (files are read in name order), and say so.
template <typename T>
void keepFirst(std::map<std::string, T>& into, const std::string& key, T obj, const char* kind, const Doc& d,
               Snapshot& s) {
  if (into.count(key)) {
    s.errors.push_back(makeError(d.where + ": duplicate " + kind + " " + key + "; keeping the first"));
    return;
  }
  into[key] = std::move(obj);
}

bool parsePort(const std::string& text, uint32_t& out);

// A list of scalars; a lone scalar is accepted as a one-element list. Anything
// else is recorded in `invalid` under `what`.
std::vector<std::string> stringList(const YAML::Node& n, const std::string& what, std::vector<std::string>& invalid);

// spec.selector (matchLabels); absent selects the whole scope.
Selector selectorOf(const YAML::Node& spec);

// " (line N)" for messages ("" when yaml-cpp has no mark).
std::string lineOf(const YAML::Node& n);

// Records every key of mapping `n` that is not in `known`.
void unknownKeys(const YAML::Node& n, const std::vector<std::string>& known, const std::string& where,
                 std::vector<std::string>& invalid);

// True for a list of mappings; an absent node is false, anything else is recorded as invalid.
bool isListOfMaps(const YAML::Node& n, const std::string& where, std::vector<std::string>& invalid);

// spec.targetRef / spec.targetRefs; each ref's namespace defaults to the policy's.
struct TargetRefsField {
  bool present = false;  // either key was written
  std::vector<TargetRef> refs;
};
TargetRefsField parseTargetRefs(const YAML::Node& spec, const std::string& policyNs, bool selectorPresent,
                                std::vector<std::string>& invalid);

}  // namespace warren::source
