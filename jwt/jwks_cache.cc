#include "jwt/jwks_cache.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "jwt/https_get.h"
#include "jwt/openid_discovery.h"

namespace warren::jwt {

JwksCache::JwksCache(Options options) : options_(std::move(options)) {
  worker_ = std::thread([this] { run(); });
}

JwksCache::~JwksCache() {
  std::vector<std::pair<Done, std::shared_ptr<const KeySet>>> pending;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
  for (auto& [uri, e] : entries_)
    for (auto& w : e.waiters) pending.emplace_back(std::move(w), e.keys);
  for (auto& [done, keys] : pending) done(keys);
}

JwksCache::Entry& JwksCache::entryFor(const std::string& uri) {
  auto [it, fresh] = entries_.try_emplace(uri);
  if (fresh) {
    it->second.status.uri = uri;
    it->second.due = Clock::now();
    wake_.notify_all();
  }
  return it->second;
}

std::shared_ptr<const KeySet> JwksCache::current(const std::string& uri) {
  std::lock_guard lock(mu_);
  return entryFor(uri).keys;
}

void JwksCache::refresh(const std::string& uri, std::chrono::milliseconds timeout, Done done) {
  std::shared_ptr<const KeySet> now;
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      Entry& e = entryFor(uri);
      e.waiters.push_back(std::move(done));
      if (!e.fetching && !e.onDemandQueued) {
        // At once, unless an on-demand fetch began within the gap: then when the
        // gap ends. Every waiter gets keys fetched after it asked, so a rotation
        // fails no request, and a flood of unknown kids costs one fetch per gap.
        const auto earliest = e.onDemand == Clock::time_point{} ? Clock::now() : e.onDemand + options_.minRefetchGap;
        e.due = std::max(Clock::now(), earliest);
        e.timeout = timeout;
        e.onDemandQueued = true;
        wake_.notify_all();
      }
      return;
    }
    if (auto it = entries_.find(uri); it != entries_.end()) now = it->second.keys;
  }
  done(std::move(now));
}

void JwksCache::retain(const std::set<std::string>& keep) {
  std::vector<std::pair<Done, std::shared_ptr<const KeySet>>> dropped;
  {
    std::lock_guard lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (keep.count(it->first)) {
        ++it;
        continue;
      }
      for (auto& w : it->second.waiters) dropped.emplace_back(std::move(w), it->second.keys);
      it = entries_.erase(it);
    }
  }
  for (auto& [done, keys] : dropped) done(keys);
}

std::vector<JwksStatus> JwksCache::status() const {
  std::lock_guard lock(mu_);
  std::vector<JwksStatus> out;
  for (const auto& [uri, e] : entries_) out.push_back(e.status);
  return out;
}

void JwksCache::onAttempt(std::function<void(const JwksStatus&)> fn) {
  std::lock_guard lock(mu_);
  onAttempt_ = std::move(fn);
}

void JwksCache::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    // The uri due first, if any is due now.
    auto next = Clock::time_point::max();
    std::string uri;
    for (const auto& [u, e] : entries_) {
      if (e.fetching) continue;
      if (e.due <= Clock::now()) {
        uri = u;
        break;
      }
      next = std::min(next, e.due);
    }
    if (uri.empty()) {
      if (next == Clock::time_point::max())
        wake_.wait(lock);
      else
        wake_.wait_until(lock, next);
      continue;
    }
    Entry& e = entries_[uri];
    e.fetching = true;
    e.attempted = Clock::now();
    if (e.onDemandQueued) e.onDemand = e.attempted;
    e.onDemandQueued = false;
    const auto timeout = e.timeout.count() > 0 ? e.timeout : options_.defaultTimeout;
    e.timeout = std::chrono::milliseconds(0);
    lock.unlock();
    fetchOne(uri, timeout);
    lock.lock();
  }
}

Result<std::string> JwksCache::get(const std::string& uri, Clock::time_point deadline) const {
  auto url = parseUrl(uri);
  if (!url) return url.error();
  if (!url->tls) spdlog::warn("jwks {}: fetched over plain HTTP: the keys can be forged on the way", uri);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left <= std::chrono::milliseconds(0)) return makeError("timed out before fetching " + uri);
  return httpGet(*url, {.caFile = options_.caFile, .timeout = left, .maxBytes = options_.maxBytes});
}

void JwksCache::fetchOne(const std::string& uri, std::chrono::milliseconds timeout) {
  // The network part, without the lock. An OpenID configuration URL (a rule with
  // only an issuer) is two GETs within the one timeout: the document, then the
  // jwks_uri it names, looked up afresh on every fetch as istiod does.
  std::shared_ptr<const KeySet> fetched;
  std::string error, discovered;
  const auto deadline = Clock::now() + timeout;
  Result<std::string> body = get(uri, deadline);
  if (body && isDiscoveryUrl(uri)) {
    if (auto jwksUri = jwksUriOf(*body); !jwksUri) {
      body = jwksUri.error();
    } else {
      discovered = *jwksUri;
      body = get(discovered, deadline);
      if (!body) body = makeError("jwks_uri " + discovered + ": " + body.error().message);
    }
  }
  if (!body) {
    error = body.error().message;
  } else if (auto set = parseJwks(*body); !set) {
    error = "not a JWKS: " + set.error().message;
  } else if (set->keys.empty()) {
    error = "the JWKS holds no usable key (" + std::to_string(set->skipped.size()) + " skipped)";
  } else {
    fetched = std::make_shared<const KeySet>(std::move(*set));
  }

  std::vector<Done> waiters;
  std::shared_ptr<const KeySet> keys;
  JwksStatus status;
  std::function<void(const JwksStatus&)> notify;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(uri);
    if (it == entries_.end()) return;  // retained away meanwhile (its waiters were answered)
    Entry& e = it->second;
    e.fetching = false;
    if (!discovered.empty()) e.status.discoveredJwksUri = discovered;
    e.status.fetches++;
    e.status.lastAttempt = std::chrono::system_clock::now();
    if (fetched) {
      std::vector<std::string> kids;
      for (const auto& k : fetched->keys) kids.push_back(k.kid.value_or(""));
      if (kids != e.status.kids) spdlog::info("jwks {}: {} key(s), kids [{}]", uri, kids.size(), fmt::join(kids, ", "));
      e.keys = fetched;
      e.status.haveKeys = true;
      e.status.kids = std::move(kids);
      e.status.skipped = fetched->skipped.size();
      e.status.fetchedAt = e.status.lastAttempt;
      e.status.lastError.clear();
      e.backoff = std::chrono::seconds(0);
      e.due = Clock::now() + options_.refreshInterval;
    } else {
      e.status.failures++;
      e.status.lastError = error;
      e.backoff = std::min<std::chrono::seconds>(options_.refreshInterval,
                                                 e.backoff.count() == 0 ? std::chrono::seconds(1) : e.backoff * 2);
      e.due = Clock::now() + e.backoff;
      spdlog::warn("jwks {}: {}; {} (retry in {} s)", uri, error,
                   e.keys ? "keeping the last good set" : "no keys yet: its tokens are refused", e.backoff.count());
    }
    waiters.swap(e.waiters);
    keys = e.keys;
    status = e.status;
    notify = onAttempt_;
  }
  for (auto& w : waiters) w(keys);
  if (notify) notify(status);
}

}  // namespace warren::jwt
