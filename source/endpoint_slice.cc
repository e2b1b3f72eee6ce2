#include "source/endpoint_slice.h"

#include "common/ip_literal.h"
#include "source/yaml_fields.h"

namespace warren::source {

void parseEndpointSlice(const Doc& d, Snapshot& s) {
  EndpointSlice slice;
  const std::string key = identify(d, slice);
  slice.serviceName = str(at(at(at(d.node, "metadata"), "labels"), kServiceNameLabel));
  if (slice.serviceName.empty()) return;
  auto fail = [&](const std::string& why) {
    s.errors.push_back(makeError("EndpointSlice " + key + " in " + d.where + ": " + why + "; the slice is ignored"));
  };
  // Only addresses of the IP families; FQDN slices name no pod.
  const std::string type = str(at(d.node, "addressType"), "IPv4");
  if (type != "IPv4" && type != "IPv6") return;
  const YAML::Node ports = at(d.node, "ports");
  if (ports && ports.IsSequence())
    for (const auto& p : ports) {
      // TCP only (the tunnel carries TCP); the API's default protocol is TCP.
      // No port: "all ports", which names no Service port.
      if (str(at(p, "protocol"), "TCP") != "TCP" || !at(p, "port")) continue;
      EndpointSlicePort port{str(at(p, "name")), 0};
      if (!parsePort(str(at(p, "port")), port.port)) return fail("port '" + str(at(p, "port")) + "' is not a port");
      slice.ports.push_back(std::move(port));
    }
  const YAML::Node endpoints = at(d.node, "endpoints");
  if (endpoints && endpoints.IsSequence())
    for (const auto& e : endpoints) {
      EndpointSliceEndpoint ep;
      const YAML::Node addresses = at(e, "addresses");
      if (addresses && addresses.IsSequence())
        for (const auto& a : addresses) {
          const std::string ip = str(a);
          if (!isIpLiteral(ip)) return fail("'" + ip + "' is not an IP address");
          ep.addresses.push_back(ip);
        }
      ep.ready = str(at(at(e, "conditions"), "ready"), "true") != "false";
      slice.endpoints.push_back(std::move(ep));
    }
  keepFirst(s.endpointSlices, key, std::move(slice), "EndpointSlice", d, s);
}

}  // namespace warren::source
