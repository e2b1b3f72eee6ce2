#pragma once
// Who may change a daemon through its admin port (15000).
//
// Reading stays open on loopback (GET /config_dump, /logging...): warrenctl and
// `kubectl port-forward` use it, as with ztunnel's admin port. Anything else (POST
// /logging silences the access log) needs `Authorization: Bearer <token>`, because
// loopback is not "root only": on a node, every hostNetwork pod and every local user
// reaches 127.0.0.1:15000. The token is random, made at each start and written to a
// root-only file (mode 0600, /run/warren/admin-token by default); warrenctl run as
// root on the node reads it from there. Why a token rather than a unix socket: the
// admin API keeps one transport (HTTP on TCP) that port-forward, curl and warrenctl
// share, and the file's permissions say who may mutate, as a socket's would.
//
// Usage:
//   auto token = makeAdminToken();                       // 64 hex characters
//   if (auto st = writeAdminToken(path, *token); !st) ...  // then refuse all mutations
//   if (auto refusal = judgeAdminRequest(request, token)) return *refusal;

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "telemetry/http_server.h"

namespace warren::telemetry {

enum class AdminVerdict {
  kAllowed,        // a read (GET), or a mutation with the right token
  kNoCredentials,  // a mutation without a bearer token: 401
  kWrongToken,     // a bearer token that is not ours: 403
  kDisabled,       // we have no token (its file could not be written): 403 for every mutation
};

// The decision alone: `token` is the daemon's (nullopt: none could be stored).
AdminVerdict judgeAdminRequest(const HttpRequest& request, const std::optional<std::string>& token);

// The answer for a refusal; `tokenFile` is named so the user knows where to look.
HttpResponse adminRefusal(AdminVerdict verdict, const HttpRequest& request, const std::string& tokenFile);

// 32 bytes from getrandom(2), hex-encoded.
Result<std::string> makeAdminToken();

// Writes the token to `path`, mode 0600, atomically (a reader sees the old token or
// the new one). Creates the parent directory (0755) if it is missing.
Status writeAdminToken(const std::string& path, const std::string& token);

// Admin requests refused for want of a valid token, process-wide
// (warren_admin_requests_unauthorized_total).
std::atomic<uint64_t>& adminRefusals();

}  // namespace warren::telemetry
