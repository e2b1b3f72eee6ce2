#pragma once
// warrenctl's client of warren-tunnel's admin endpoint (127.0.0.1:15000 by default):
// one HTTP/1.1 request per call, the JSON body parsed. Errors say what to check.

#include <string>

#include "common/result.h"
#include "tools/warrenctl/cli.h"

namespace warren::ctl {

// GET or POST `target` ("/config_dump", "/logging?level=debug") at host:port; a
// non-2xx answer is an error carrying the tunnel's own message.
Result<std::string> adminRequest(const std::string& address, const std::string& method, const std::string& target);
Result<Json> adminJson(const std::string& address, const std::string& method, const std::string& target);

// Percent-encodes a query value.
std::string queryEscape(const std::string& s);

}  // namespace warren::ctl
