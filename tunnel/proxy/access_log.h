#pragma once
// One structured line per connection, when it ends (ztunnel's access log).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace warren::proxy {

struct ConnectionRecord {
  std::string direction;                 // "outbound" | "inbound"
  std::string protocol;                  // "hbone" (mTLS between tunnels) | "tcp" (plaintext)
  std::string security;                  // "mutual_tls" | "none", as Istio's connection_security_policy
  std::string pod;                       // ns/name of the captured pod
  std::string src;                       // who connected
  std::string dst;                       // the original destination (outbound) / the app address (inbound)
  std::string srcIdentity, dstIdentity;  // SPIFFE URIs (outbound dst: the one required)
  std::string srcWorkload, dstWorkload;  // "ns/name" when known
  std::string dstService;                // service hostname when a VIP was dialed
  // Inbound authorization: "allow" | "deny" ("" when not evaluated), the policy
  // (or PeerAuthentication) that decided, and why; AUDIT matches and what
  // dry-run policies would have decided.
  std::string verdict, policy, policyReason;
  std::vector<std::string> audit, dryRun;
  // Istio's response_flags: "-" none, "DENY" refused by policy, "CONNECT" the
  // upstream could not be reached.
  std::string responseFlags = "-";
  std::string via;             // outbound HBONE: the peer's <pod IP>:15008
  std::string waypoint;        // outbound through a waypoint: its Service key
  int status = 0;              // HBONE response status
  uint64_t bytesSent = 0;      // client -> destination
  uint64_t bytesReceived = 0;  // destination -> client
  std::chrono::steady_clock::duration duration{};
  std::string endReason;
  // For the audit log: the HBONE session's TLS names (OpenSSL's static strings;
  // null for plaintext or no session) and the SHA-256 of the deciding policy.
  const char* tlsVersion = nullptr;
  const char* tlsCipher = nullptr;
  std::string policySha256;
  // Plaintext listeners: the admission slot (io::SlotLease) the connection holds
  // until the last copy of its record goes (with the relay or stream that ends it).
  std::shared_ptr<const void> slot;
};

std::string formatConnection(const ConnectionRecord& rec);  // one JSON object
void logConnection(const ConnectionRecord& rec);

}  // namespace warren::proxy
