#pragma once
// The key sets of RequestAuthentication jwksUris, fetched over HTTPS by one
// background thread and served to the waypoint's loop without ever blocking it.
//
//  - A uri is fetched when first asked for, then every refreshInterval; a failed
//    fetch is retried with backoff (1 s, doubling up to refreshInterval).
//  - A failed fetch, or a document with no usable key, never replaces the last
//    good set: an IdP's outage must not turn every valid token into a 401.
//  - refresh() fetches for a token whose kid the set lacks (a rotation): at once,
//    or joining an attempt in flight, or, when an on-demand fetch began less than
//    minRefetchGap ago, as soon as the gap ends. Every caller gets keys fetched
//    after it asked (so a rotation fails no request), and a flood of tokens with
//    made-up kids costs one fetch per gap, not one per request.
//  - One thread fetches uris in turn: a stalled IdP delays the others by at most
//    its timeout.
//  - A uri that is an issuer's OpenID configuration (openid_discovery.h) is
//    fetched, then the jwks_uri it names, both within the one timeout.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "jwt/jwks.h"

namespace warren::jwt {

struct JwksStatus {  // for `warrenctl waypoint jwks` and the admin endpoint
  std::string uri;
  bool haveKeys = false;
  std::chrono::system_clock::time_point fetchedAt{};  // last successful fetch
  std::chrono::system_clock::time_point lastAttempt{};
  std::vector<std::string> kids;  // of the current set ("" for a key without kid)
  size_t skipped = 0;             // keys of the document the set does not hold
  std::string lastError;          // "" when the last attempt succeeded
  std::string discoveredJwksUri;  // uri is an issuer's OpenID configuration: the jwks_uri it named
  uint64_t fetches = 0, failures = 0;
};

class JwksCache {
 public:
  struct Options {
    std::string caFile;                              // "": the system trust store
    std::chrono::seconds refreshInterval{300};       // every known uri is refetched this often
    std::chrono::seconds minRefetchGap{1};           // on-demand fetches of one uri are this far apart
    std::chrono::milliseconds defaultTimeout{5000};  // Istio's JWTRule.timeout default
    size_t maxBytes = 1u << 20;
  };
  using Done = std::function<void(std::shared_ptr<const KeySet>)>;

  explicit JwksCache(Options options);
  ~JwksCache();
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  // The last good set of `uri`, or nullptr if none was fetched yet. Never blocks
  // on the network; a uri's first use schedules its fetch.
  std::shared_ptr<const KeySet> current(const std::string& uri);
  // Fetch `uri` for this caller (see the header comment for coalescing). `done`
  // runs once, on the fetcher thread (on the caller's when the cache is shutting
  // down), with the set then current (nullptr: none).
  // timeout 0: defaultTimeout.
  void refresh(const std::string& uri, std::chrono::milliseconds timeout, Done done);
  // Forget every uri not in `keep` (the cluster state changed).
  void retain(const std::set<std::string>& keep);
  std::vector<JwksStatus> status() const;
  // Runs on the fetcher thread after every attempt (e.g. to count it). Set before use.
  void onAttempt(std::function<void(const JwksStatus&)> fn);

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::shared_ptr<const KeySet> keys;
    JwksStatus status;
    Clock::time_point due;        // next fetch
    Clock::time_point attempted;  // when the last attempt began
    Clock::time_point onDemand;   // when the last attempt asked for by refresh() began
    bool fetching = false;
    bool onDemandQueued = false;           // refresh() scheduled the next attempt
    std::chrono::milliseconds timeout{0};  // of the next attempt (refresh's), 0: default
    std::chrono::seconds backoff{0};
    std::vector<Done> waiters;
  };

  Entry& entryFor(const std::string& uri);  // mu_ held
  void run();
  void fetchOne(const std::string& uri, std::chrono::milliseconds timeout);
  Result<std::string> get(const std::string& uri, Clock::time_point deadline) const;

  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, Entry> entries_;
  std::function<void(const JwksStatus&)> onAttempt_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace warren::jwt
