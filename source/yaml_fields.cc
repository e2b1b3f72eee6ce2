#include "source/yaml_fields.h"

#include <algorithm>
#include <charconv>

namespace warren::source {

bool parsePort(const std::string& text, uint32_t& out) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0 || v > 65535) return false;
  out = v;
  return true;
}

// A list of scalars; a lone scalar is accepted as a one-element list. Anything
// else is recorded as invalid.
std::vector<std::string> stringList(const YAML::Node& n, const std::string& what, std::vector<std::string>& invalid) {
  std::vector<std::string> out;
  if (!n) return out;
  if (n.IsScalar()) return {n.as<std::string>()};
  if (!n.IsSequence()) {
    invalid.push_back(what + " must be a list of strings");
    return out;
  }
  for (const auto& e : n) {
    if (!e.IsScalar()) {
      invalid.push_back(what + " must be a list of strings");
      continue;
    }
    out.push_back(e.as<std::string>());
  }
  return out;
}

Selector selectorOf(const YAML::Node& spec) {
  Selector sel;
  const YAML::Node s = at(spec, "selector");
  if (!s) return sel;
  sel.present = true;
  sel.matchLabels = stringMap(at(s, "matchLabels"));
  return sel;
}

// Where a node sits, for messages: "line N" (the document's file is in p.where).
std::string lineOf(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.is_null() ? "" : " (line " + std::to_string(m.line + 1) + ")";
}

// Records every key of mapping `n` that is not in `known`, as kubectl's strict
// field validation does: a misplaced or misspelt key silently dropped would leave a
// policy broader than written (a `to:` one level too far out allows everything).
void unknownKeys(const YAML::Node& n, const std::vector<std::string>& known, const std::string& where,
                 std::vector<std::string>& invalid) {
  if (!n || !n.IsMap()) return;
  for (const auto& kv : n) {
    const std::string key = kv.first.IsScalar() ? kv.first.as<std::string>() : "?";
    if (std::find(known.begin(), known.end(), key) == known.end())
      invalid.push_back(where + ": unknown field '" + key + "'" + lineOf(kv.first));
  }
}

// A list of mappings (rules[i].from, .to, .when, targetRefs); anything else is invalid.
bool isListOfMaps(const YAML::Node& n, const std::string& where, std::vector<std::string>& invalid) {
  if (!n) return false;
  if (!n.IsSequence()) {
    invalid.push_back(where + " must be a list" + lineOf(n));
    return false;
  }
  for (const auto& e : n)
    if (!e.IsMap()) {
      invalid.push_back(where + " entries must be mappings" + lineOf(e));
      return false;
    }
  return true;
}

// One targetRef entry; its namespace defaults to the policy's own.
namespace {

TargetRef parseTargetRef(const YAML::Node& n, const std::string& policyNs, const std::string& where,
                         std::vector<std::string>& invalid) {
  unknownKeys(n, {"group", "kind", "name", "namespace"}, where, invalid);
  TargetRef t{str(at(n, "group")), str(at(n, "kind")), str(at(n, "name")), str(at(n, "namespace"), policyNs)};
  if (t.kind.empty() || t.name.empty()) invalid.push_back(where + " needs kind and name" + lineOf(n));
  return t;
}

}  // namespace

TargetRefsField parseTargetRefs(const YAML::Node& spec, const std::string& policyNs, bool selectorPresent,
                                std::vector<std::string>& invalid) {
  TargetRefsField out;
  const YAML::Node one = at(spec, "targetRef");
  const YAML::Node many = at(spec, "targetRefs");
  out.present = static_cast<bool>(one) || static_cast<bool>(many);
  if (one && many) invalid.push_back("spec: targetRef and targetRefs are mutually exclusive" + lineOf(one));
  if (one) {
    if (one.IsMap())
      out.refs.push_back(parseTargetRef(one, policyNs, "targetRef", invalid));
    else
      invalid.push_back("targetRef must be a mapping" + lineOf(one));
  }
  if (isListOfMaps(many, "targetRefs", invalid))
    for (size_t i = 0; i < many.size(); ++i)
      out.refs.push_back(parseTargetRef(many[i], policyNs, "targetRefs[" + std::to_string(i) + "]", invalid));
  if (out.present && selectorPresent)
    invalid.push_back("spec: selector and targetRef(s) are mutually exclusive" + lineOf(at(spec, "selector")));
  return out;
}

}  // namespace warren::source
