#pragma once
// One structured line per connection, when it ends (ztunnel's access log).

#include <chrono>
#include <cstdint>
#include <string>

namespace warren::proxy {

struct ConnectionRecord {
  std::string direction;  // "outbound" | "inbound"
  std::string pod;        // ns/name of the captured pod
  std::string src;        // who connected
  std::string dst;        // the original destination (outbound) / the app address (inbound)
  uint64_t bytesSent = 0;      // client -> destination
  uint64_t bytesReceived = 0;  // destination -> client
  std::chrono::steady_clock::duration duration{};
  std::string endReason;
};

std::string formatConnection(const ConnectionRecord& rec);  // one JSON object
void logConnection(const ConnectionRecord& rec);

}  // namespace warren::proxy
