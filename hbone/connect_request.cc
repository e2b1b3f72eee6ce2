#include "hbone/connect_request.h"

#include <algorithm>
#include <cstdio>
#include <random>

#include "io/tcp.h"
#include "warren_abi.h"

namespace warren::hbone {

namespace {

RequestVerdict bad(std::string reason) {
  RequestVerdict v;
  v.status = 400;
  v.reason = std::move(reason);
  return v;
}

}  // namespace

Headers buildConnectRequest(const std::string& authority, const ClientInfo& client, const std::string& traceparent) {
  Headers h = {{":method", "CONNECT"}, {":authority", authority}};
  if (!client.sourceIp.empty()) {
    bool v6 = client.sourceIp.find(':') != std::string::npos;
    h.emplace_back("forwarded", v6 ? "for=\"[" + client.sourceIp + "]\"" : "for=" + client.sourceIp);
  }
  if (!client.ns.empty())
    h.emplace_back("baggage", "k8s.cluster.name=" + client.clusterId + ",k8s.namespace.name=" + client.ns +
                                  ",k8s.pod.name=" + client.name + ",service.name=" + client.serviceAccount);
  if (!traceparent.empty()) h.emplace_back("traceparent", traceparent);
  return h;
}

std::string newTraceparent() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[64];
  std::snprintf(buf, sizeof(buf), "00-%016llx%016llx-%016llx-00", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()), static_cast<unsigned long long>(rng() | 1));
  return buf;
}

std::string forwardedFor(const std::string& forwarded) {
  // Only the first element and its for= pair matter here: one hop, set by the client tunnel.
  size_t end = forwarded.find(',');
  std::string first = forwarded.substr(0, end);
  size_t pos = 0;
  while (pos < first.size()) {
    size_t semi = first.find(';', pos);
    std::string pair = first.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos);
    pair.erase(0, pair.find_first_not_of(' '));
    if (pair.size() > 4 && (pair.compare(0, 4, "for=") == 0 || pair.compare(0, 4, "For=") == 0)) {
      std::string v = pair.substr(4);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      if (v.size() >= 2 && v.front() == '[') v = v.substr(1, v.find(']') - 1);
      return v;
    }
    if (semi == std::string::npos) break;
    pos = semi + 1;
  }
  return "";
}

RequestVerdict judgeConnectRequest(const Headers& request, const std::vector<std::string>& podIps) {
  auto method = findHeader(request, ":method");
  if (!method || *method != "CONNECT") return bad("method " + method.value_or("(none)") + " is not CONNECT");
  auto authority = findHeader(request, ":authority");
  if (!authority) return bad("no :authority");
  auto target = io::parseHostPort(*authority);
  if (!target) return bad(":authority " + *authority + " is not ip:port");
  uint16_t port = io::portOf(*target);
  if (port == 0) return bad(":authority " + *authority + " has port 0");
  std::string ip = io::formatIp(*target);
  if (std::find(podIps.begin(), podIps.end(), ip) == podIps.end())
    return bad(":authority " + *authority + " is not an address of this pod");
  if (port == WARREN_OUTBOUND_PORT || port == WARREN_INBOUND_PORT || port == WARREN_HBONE_PORT)
    return bad(":authority " + *authority + " is a port of the tunnel itself");
  RequestVerdict v;
  v.status = 200;
  v.target = *target;
  if (auto fwd = findHeader(request, "forwarded")) v.forwardedFor = forwardedFor(*fwd);
  return v;
}

}  // namespace warren::hbone
