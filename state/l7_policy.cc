#include "state/l7_policy.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace warren::state {

std::optional<ConditionKey> parseConditionKey(std::string_view key) {
  using Attr = ConditionKey::Attr;
  // Keys without arguments.
  static const std::map<std::string_view, Attr> plain = {
      {"request.auth.principal", Attr::RequestPrincipal},
      {"request.auth.audiences", Attr::RequestAudiences},
      {"request.auth.presenter", Attr::RequestPresenter},
      {"source.ip", Attr::SourceIp},
      {"remote.ip", Attr::RemoteIp},
      {"source.namespace", Attr::SourceNamespace},
      {"source.principal", Attr::SourcePrincipal},
      {"destination.ip", Attr::DestinationIp},
      {"destination.port", Attr::DestinationPort},
      {"connection.sni", Attr::ConnectionSni},
  };
  if (auto it = plain.find(key); it != plain.end()) return ConditionKey{it->second, {}};

  ConditionKey out;
  std::string_view rest;
  if (key.starts_with("request.headers[")) {
    out.attr = Attr::RequestHeader;
    rest = key.substr(std::string_view("request.headers").size());
  } else if (key.starts_with("request.auth.claims[")) {
    out.attr = Attr::RequestClaim;
    rest = key.substr(std::string_view("request.auth.claims").size());
  } else {
    return std::nullopt;
  }
  // One or more "[arg]" groups and nothing after them; an argument is never empty
  // and holds no bracket (Istio's own parser splits the same way).
  while (!rest.empty()) {
    if (rest.front() != '[') return std::nullopt;
    auto close = rest.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    std::string_view arg = rest.substr(1, close - 1);
    if (arg.find('[') != std::string_view::npos) return std::nullopt;
    out.args.emplace_back(arg);
    rest = rest.substr(close + 1);
  }
  if (out.attr == Attr::RequestHeader) {
    if (out.args.size() != 1) return std::nullopt;
    // Header names are case-insensitive; the request's facts carry them lower-case.
    std::transform(out.args[0].begin(), out.args[0].end(), out.args[0].begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  return out;
}

}  // namespace warren::state
