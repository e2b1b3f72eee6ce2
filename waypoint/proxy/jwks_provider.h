#pragma once
// Where the waypoint's data path gets the key sets of RequestAuthentication
// jwksUris: an interface, so the loop never blocks on the network (the fetching
// cache runs its own thread) and session tests can hand keys in directly.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "jwt/jwks.h"

namespace warren::waypoint {

class JwksProvider {
 public:
  virtual ~JwksProvider() = default;
  // The last good set of `uri`, or nullptr: none fetched yet. Never blocks.
  virtual std::shared_ptr<const jwt::KeySet> current(const std::string& uri) = 0;
  // Fetch `uri` now; `done` runs once, on any thread, with the set then current.
  virtual void refresh(const std::string& uri, std::chrono::milliseconds timeout,
                       std::function<void(std::shared_ptr<const jwt::KeySet>)> done) = 0;
};

}  // namespace warren::waypoint
