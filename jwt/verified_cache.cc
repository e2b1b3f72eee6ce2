#include "jwt/verified_cache.h"

#include <openssl/evp.h>

#include <cstring>

namespace warren::jwt {
namespace {

bool sameOwner(const std::weak_ptr<const KeySet>& a, const std::shared_ptr<const KeySet>& b) {
  return !a.owner_before(b) && !b.owner_before(a);
}

}  // namespace

size_t VerifiedTokenCache::DigestHash::operator()(const Digest& d) const {
  size_t h;
  std::memcpy(&h, d.data(), sizeof(h));  // a cryptographic digest: any 8 of its bytes are a good hash
  return h;
}

std::shared_ptr<const VerifiedToken> VerifiedTokenCache::lookup(const Digest& digest,
                                                                const std::shared_ptr<const KeySet>& keys) {
  std::lock_guard lock(mu_);
  auto it = index_.find(digest);
  if (it == index_.end() || !sameOwner(it->second->keys, keys)) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  order_.splice(order_.begin(), order_, it->second);
  return it->second->token;
}

void VerifiedTokenCache::remember(const Digest& digest, const std::shared_ptr<const KeySet>& keys,
                                  std::shared_ptr<const VerifiedToken> token) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mu_);
  if (auto it = index_.find(digest); it != index_.end()) {
    it->second->keys = keys;
    it->second->token = std::move(token);
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  order_.push_front(Entry{digest, keys, std::move(token)});
  index_.emplace(digest, order_.begin());
  if (order_.size() > capacity_) {
    index_.erase(order_.back().digest);
    order_.pop_back();
  }
}

VerifyResult VerifiedTokenCache::verify(const JwtRule& rule, const std::shared_ptr<const KeySet>& keys,
                                        std::string_view token, std::chrono::system_clock::time_point now) {
  static const KeySet kNoKeys;
  Digest digest{};
  unsigned int len = 0;
  if (!keys || EVP_Digest(token.data(), token.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != digest.size())
    return jwt::verify(rule, keys ? *keys : kNoKeys, token, now);  // uncached, same answer

  std::shared_ptr<const VerifiedToken> known = lookup(digest, keys);
  if (!known) {
    VerifyResult fresh = verifySignature(rule, *keys, token);
    if (!fresh) return fresh;
    known = fresh.shared();
    remember(digest, keys, known);
  }
  if (auto why = judgeClaims(rule, *known, now)) return std::move(*why);
  return known;
}

VerifiedTokenCache::Stats VerifiedTokenCache::stats() const {
  std::lock_guard lock(mu_);
  return Stats{hits_, misses_, order_.size()};
}

}  // namespace warren::jwt
