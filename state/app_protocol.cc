#include "state/app_protocol.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "common/text.h"

namespace warren::state {
namespace {

// Istio's protocol names (pkg/config/protocol) that say something about HTTP, and
// the Kubernetes-standard appProtocol values for h2c and WebSocket.
AppProtocol fromName(const std::string& name) {
  if (name == "http" || name == "http-proxy" || name == "kubernetes.io/ws" || name == "kubernetes.io/wss")
    return AppProtocol::Http11;
  if (name == "http2" || name == "h2c" || name == "kubernetes.io/h2c") return AppProtocol::Http2;
  // grpc-web is HTTP/2 to the upstream in Istio (IsHTTP2), as gRPC is.
  if (name == "grpc" || name == "grpc-web") return AppProtocol::Grpc;
  if (name == "tcp" || name == "mongo" || name == "mysql" || name == "redis") return AppProtocol::Tcp;
  if (name == "tls" || name == "https") return AppProtocol::Tls;
  return AppProtocol::Unknown;
}

}  // namespace

AppProtocol appProtocolOf(std::string_view appProtocolField, std::string_view portName) {
  if (!appProtocolField.empty()) {
    // An appProtocol Istio does not know is not overridden by the name (Istio
    // takes appProtocol when set): unknown, which the waypoint treats by the client.
    return fromName(asciiLower(appProtocolField));
  }
  const std::string name = asciiLower(portName);
  return fromName(name.substr(0, name.find('-')));
}

std::string_view appProtocolName(AppProtocol p) {
  switch (p) {
    case AppProtocol::Http11: return "http";
    case AppProtocol::Http2: return "http2";
    case AppProtocol::Grpc: return "grpc";
    case AppProtocol::Tcp: return "tcp";
    case AppProtocol::Tls: return "tls";
    case AppProtocol::Unknown: break;
  }
  return "";
}

bool upstreamSpeaksHttp2(AppProtocol p, bool downstreamHttp2) {
  switch (p) {
    case AppProtocol::Http2:
    case AppProtocol::Grpc: return true;
    case AppProtocol::Http11: return false;
    default: return downstreamHttp2;
  }
}

}  // namespace warren::state
