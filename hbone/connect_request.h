#pragma once
// The HBONE CONNECT request, both ends: what the client sends and how the server
// judges what it receives. Pure functions, tested without sockets.

#include <sys/socket.h>

#include <string>
#include <vector>

#include "hbone/h2_connection.h"

namespace warren::hbone {

struct ClientInfo {
  std::string sourceIp;  // the app's address, sent as `forwarded: for=`
  std::string ns, name, serviceAccount;
  std::string clusterId = "Kubernetes";
};

// :method CONNECT, :authority = authority ("10.244.2.5:80", "[fd00::5]:80"), and
// Istio's optional forwarded / baggage / traceparent headers.
Headers buildConnectRequest(const std::string& authority, const ClientInfo& client, const std::string& traceparent);

// A fresh W3C traceparent ("00-<32 hex>-<16 hex>-00").
std::string newTraceparent();

struct RequestVerdict {
  int status = 400;           // 200: go ahead and connect to target
  sockaddr_storage target{};  // with 200
  std::string reason;         // with an error, for the access log
  std::string forwardedFor;   // the client's claimed source address, if sent
};

// What a server receiving `request` on the pod with `podIps` does (ztunnel's rules):
// not CONNECT, or an :authority that is not "ip:port" => 400; an IP that is not
// this pod's => 400 (one pod's port 15008 never reaches another pod); a port of
// the tunnel itself => 400.
RequestVerdict judgeConnectRequest(const Headers& request, const std::vector<std::string>& podIps);

// `for=` of a `forwarded` header (RFC 7239), brackets and quotes removed; "" if absent.
std::string forwardedFor(const std::string& forwarded);

}  // namespace warren::hbone
