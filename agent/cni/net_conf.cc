#include "agent/cni/net_conf.h"

namespace warren::cni {

namespace {

using nlohmann::json;

Error configError(const std::string& what) { return makeError(what, kInvalidConfig); }

// A string field: absent leaves `out` as it is; any other type is an error.
Status readString(const json& conf, const char* key, std::string& out) {
  auto it = conf.find(key);
  if (it == conf.end()) return okStatus();
  if (!it->is_string()) return configError(std::string(key) + " must be a string, not " + it->type_name());
  out = it->get<std::string>();
  return okStatus();
}

Status readTimeout(const json& conf, std::chrono::milliseconds& out) {
  auto it = conf.find("timeoutMs");
  if (it == conf.end()) return okStatus();
  // 0 or less would disarm every timeout (a plugin that may hang pod start-up
  // forever on a stuck agent): refused, like a value of another type.
  if (!it->is_number_integer() || it->get<int64_t>() <= 0)
    return configError("timeoutMs must be a positive number of milliseconds, not " + it->dump());
  // A day is far past any runtime's own CNI deadline; more is surely a mistake.
  if (it->get<int64_t>() > 86'400'000) return configError("timeoutMs " + it->dump() + " is more than a day");
  out = std::chrono::milliseconds(it->get<int64_t>());
  return okStatus();
}

Status readAlwaysPass(const json& conf, std::set<std::string>& out) {
  auto it = conf.find("alwaysPass");
  if (it == conf.end()) return okStatus();
  if (!it->is_array())
    return configError(std::string("alwaysPass must be a list of namespaces, not ") + it->type_name());
  std::set<std::string> namespaces;
  for (const auto& ns : *it) {
    if (!ns.is_string()) return configError("alwaysPass must list namespace names (strings), not " + ns.dump());
    namespaces.insert(ns.get<std::string>());
  }
  out = std::move(namespaces);  // replaces the default
  return okStatus();
}

// prevResult as CNI 1.0.0 shapes it; only what warren-cni reads is checked.
Status readPrevResult(const json& conf, NetConf& out) {
  auto it = conf.find("prevResult");
  if (it == conf.end() || it->is_null()) return okStatus();
  if (!it->is_object()) return configError(std::string("prevResult must be an object, not ") + it->type_name());
  out.prevResult = *it;
  auto ips = it->find("ips");
  if (ips == it->end()) return okStatus();
  if (!ips->is_array()) return configError(std::string("prevResult.ips must be a list, not ") + ips->type_name());
  for (const auto& ip : *ips) {
    if (!ip.is_object()) return configError("prevResult.ips entries must be objects, not " + ip.dump());
    std::string address;
    if (auto st = readString(ip, "address", address); !st) return configError("prevResult.ips[]." + st.error().message);
    if (!address.empty()) out.podIps.push_back(address.substr(0, address.find('/')));
  }
  return okStatus();
}

}  // namespace

Result<NetConf> parseNetConf(const std::string& text) {
  json conf = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (conf.is_discarded() || !conf.is_object())
    return makeError("network configuration is not a JSON object", kDecodeFailure);
  NetConf out;
  if (auto st = readString(conf, "cniVersion", out.cniVersion); !st) return st.error();
  if (out.cniVersion.empty()) return configError("network configuration has no cniVersion");
  if (out.cniVersion.rfind("0.1", 0) == 0 || out.cniVersion.rfind("0.2", 0) == 0)
    return makeError("warren-cni needs cniVersion 0.3.0 or later, got " + out.cniVersion, kIncompatibleVersion);
  if (auto st = readString(conf, "agentSocket", out.agentSocket); !st) return st.error();
  if (auto st = readString(conf, "captureScopeFile", out.captureScopeFile); !st) return st.error();
  if (auto st = readTimeout(conf, out.timeout); !st) return st.error();
  if (auto st = readAlwaysPass(conf, out.alwaysPass); !st) return st.error();
  if (auto st = readPrevResult(conf, out); !st) return st.error();
  return out;
}

}  // namespace warren::cni
