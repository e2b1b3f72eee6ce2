#pragma once
// The stunnel comparison path of warren-hbone-bench: a classic mTLS tunnel with
// two user-space hops, like the mesh, but no HTTP/2 and no capture. One stunnel
// in the client pod's netns (listening on loopback, where the client dials it),
// one in the server pod's netns (on the pod IP, forwarding to the app on
// loopback); TLS 1.3 only, and each side proves a certificate from a CA made for
// the run (ECDSA P-256, as Warren's workload certificates).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "tests/support/cluster.h"

namespace warren::bench {

// Where the client dials the stunnel path for an app port, and where the server
// side listens on the pod's IP.
constexpr uint16_t stunnelFrontPort(uint16_t appPort) { return static_cast<uint16_t>(30000 + appPort); }
constexpr uint16_t stunnelBackPort(uint16_t appPort) { return static_cast<uint16_t>(40000 + appPort); }

struct StunnelPath {
  std::unique_ptr<e2e::Process> client, server;
};

// Writes the CA and the two certificates under dir, then starts both stunnels
// for each of appPorts and waits for their "Configuration successful".
Result<StunnelPath> startStunnelPath(const std::string& dir, const e2e::Pod& clientPod, const e2e::Pod& serverPod,
                                     const std::vector<uint16_t>& appPorts);

}  // namespace warren::bench
