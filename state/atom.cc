#include "state/atom.h"

#include <array>
#include <memory>
#include <mutex>
#include <unordered_set>

namespace warren::state {
namespace {

// Transparent lookup by string_view, without a temporary std::string.
struct ViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>()(s); }
};

// Sharded so that two sources' threads interning at once seldom wait on each
// other. Each shard owns its strings (node-based set: an element never moves)
// and lives as long as the process: atoms are never freed.
struct Shard {
  std::mutex mu;
  std::unordered_set<std::string, ViewHash, std::equal_to<>> strings;
};
constexpr size_t kShards = 16;

struct Table {
  std::array<Shard, kShards> shards;
};

Table& table() {
  // Leaked on purpose: states destroyed during static destruction (a thread's
  // last snapshot, say) may still compare atoms.
  static Table* t = new Table;
  return *t;
}

}  // namespace

const std::string* Atom::intern(std::string_view s) {
  if (s.empty()) return emptyString();
  const size_t h = std::hash<std::string_view>()(s);
  Shard& shard = table().shards[h % kShards];
  std::lock_guard lock(shard.mu);
  auto it = shard.strings.find(s);
  if (it == shard.strings.end()) it = shard.strings.emplace(s).first;
  return &*it;
}

const std::string* Atom::emptyString() {
  static const std::string* empty = new std::string;
  return empty;
}

size_t Atom::tableSize() {
  size_t n = 0;
  for (Shard& s : table().shards) {
    std::lock_guard lock(s.mu);
    n += s.strings.size();
  }
  return n;
}

}  // namespace warren::state
