#pragma once
// warren-cni's network configuration (the JSON a runtime writes to its stdin), read
// with every type checked. A field of the wrong type, or a timeout that would turn
// every timeout off, is a CNI error the runtime shows to the operator ("timeoutMs
// must be a positive number of milliseconds"), never an exception that aborts the
// plugin with nothing on stdout.

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace warren::cni {

// CNI spec error codes (the "code" of an error result).
inline constexpr int kIncompatibleVersion = 1;
inline constexpr int kInvalidEnv = 4;
inline constexpr int kDecodeFailure = 6;
inline constexpr int kInvalidConfig = 7;
inline constexpr int kTryAgainLater = 11;

struct NetConf {
  std::string cniVersion;
  std::string agentSocket = "/run/warren/cni.sock";
  std::chrono::milliseconds timeout{5000};  // each exchange with the agent
  std::string captureScopeFile;             // empty: next to agentSocket
  std::set<std::string> alwaysPass = {"kube-system"};
  nlohmann::json prevResult;        // null when absent
  std::vector<std::string> podIps;  // prevResult.ips[].address without the prefix length
};

// Parses stdin's text. On failure the Error's code is the CNI error code
// (kDecodeFailure: not a JSON object; kIncompatibleVersion; kInvalidConfig: a
// missing or ill-typed field) and its message names the field.
Result<NetConf> parseNetConf(const std::string& text);

}  // namespace warren::cni
