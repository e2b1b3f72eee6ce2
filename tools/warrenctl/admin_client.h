#pragma once
// warrenctl's client of warren-tunnel's admin endpoint (127.0.0.1:15000 by default):
// one HTTP/1.1 request per call, the JSON body parsed. Errors say what to check.

#include <string>

#include "common/result.h"
#include "tools/warrenctl/cli.h"

namespace warren::ctl {

// GET or POST `target` ("/config_dump", "/logging?level=debug") at host:port; a
// non-2xx answer is an error carrying the tunnel's own message. `bearer`, when not
// empty, is sent as "Authorization: Bearer ..." (the tunnel wants it on every request
// but a GET); `body` as the request's body (GET /assert's spec).
Result<std::string> adminRequest(const std::string& address, const std::string& method, const std::string& target,
                                 const std::string& bearer = "", const std::string& body = "");
Result<Json> adminJson(const std::string& address, const std::string& method, const std::string& target,
                       const std::string& bearer = "", const std::string& body = "");

// The tunnel's admin token from `file` (--admin-token-file); the error says that
// changing the tunnel needs root on its node.
Result<std::string> readAdminToken(const std::string& file);

// Percent-encodes a query value.
std::string queryEscape(const std::string& s);

}  // namespace warren::ctl
