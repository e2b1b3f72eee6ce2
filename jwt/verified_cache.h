#pragma once
// Tokens whose signature was verified, remembered by the SHA-256 of their text:
// a client sends the same token on every request until it expires, and an RS256
// or ES256 check costs tens of microseconds, more than the rest of the request's
// judgement. Envoy's jwt_authn keeps such a cache (jwt_cache_config) too.
//
// What is cached is only "this token's signature holds under this key set
// object": a new set (a JWKS refresh or rotation, a policy change) is a miss, so
// a key taken out of the JWKS stops verifying at once. The checks that depend on
// the rule and the clock (issuer, exp/nbf, audience) run on every use, so a cached
// token still expires on time and still meets each rule's audiences. Failures are
// not cached. Least recently used entries are dropped beyond the capacity.
// Thread-safe; the waypoint uses it from its loop thread.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "jwt/jwks.h"
#include "jwt/rule.h"
#include "jwt/verify.h"

namespace warren::jwt {

class VerifiedTokenCache {
 public:
  static constexpr size_t kDefaultCapacity = 4096;
  explicit VerifiedTokenCache(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // The same answer as verify(rule, *keys, token, now).
  VerifyResult verify(const JwtRule& rule, const std::shared_ptr<const KeySet>& keys, std::string_view token,
                      std::chrono::system_clock::time_point now);

  struct Stats {
    uint64_t hits = 0, misses = 0;
    size_t entries = 0;
  };
  Stats stats() const;

 private:
  using Digest = std::array<unsigned char, 32>;
  struct DigestHash {
    size_t operator()(const Digest& d) const;
  };
  struct Entry {
    Digest digest;
    std::weak_ptr<const KeySet> keys;  // weak: never keeps an old set alive, and never aliases a new one
    std::shared_ptr<const VerifiedToken> token;
  };

  std::shared_ptr<const VerifiedToken> lookup(const Digest& digest, const std::shared_ptr<const KeySet>& keys);
  void remember(const Digest& digest, const std::shared_ptr<const KeySet>& keys,
                std::shared_ptr<const VerifiedToken> token);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<Digest, std::list<Entry>::iterator, DigestHash> index_;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace warren::jwt
