#pragma once
// The application protocol of a service port, as Istio selects it: the port's
// `appProtocol` first, else the prefix of its name up to the first '-' ("grpc",
// "http2-api", "tcp-db"), else unknown. The waypoint picks its upstream HTTP
// version from it: gRPC and HTTP/2 ports get HTTP/2 (with trailers), HTTP ports
// HTTP/1.1, unknown ones the client's own version (Envoy's use-downstream-protocol).

#include <string>
#include <string_view>

namespace warren::state {

// The values of istio.workload.AppProtocol, in its order (the xDS source casts).
enum class AppProtocol { Unknown = 0, Http11 = 1, Http2 = 2, Grpc = 3, Tcp = 4, Tls = 5 };

// Kubernetes' `appProtocol` and `name` of a Service port, as written.
AppProtocol appProtocolOf(std::string_view appProtocolField, std::string_view portName);

// "http", "http2", "grpc", "tcp", "tls", "" for unknown (admin dump, CLI).
std::string_view appProtocolName(AppProtocol p);

// Whether requests to a port of this protocol go upstream as HTTP/2 when the
// client spoke `downstreamHttp2`.
bool upstreamSpeaksHttp2(AppProtocol p, bool downstreamHttp2);

}  // namespace warren::state
