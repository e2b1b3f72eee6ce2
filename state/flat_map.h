#pragma once
// A small sorted map in one vector: a workload's labels and service memberships
// are a handful of entries each, read far more often than written, and a
// std::map spends a 48-byte node (plus its key's and value's heap) per entry
// where this spends the entry alone. Reads look like std::map's (find, count,
// at, ordered iteration with structured bindings); operator[] and emplace insert
// in order. Iterators and references are invalidated by any insert or erase.

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

namespace warren::state {

template <typename K, typename V>
class FlatMap {
 public:
  using key_type = K;
  using mapped_type = V;
  using value_type = std::pair<K, V>;
  using const_iterator = typename std::vector<value_type>::const_iterator;
  using iterator = typename std::vector<value_type>::iterator;

  FlatMap() = default;
  FlatMap(std::initializer_list<value_type> init) {
    for (const auto& [k, v] : init) (*this)[k] = v;
  }
  // From any map-like range of (key, value) pairs, e.g. a std::map<std::string, std::string>.
  template <typename Map, typename = decltype(std::declval<const Map&>().begin()->second)>
  FlatMap(const Map& m) {  // NOLINT: implicit, so a std::map assigns as it did
    entries_.reserve(m.size());
    for (const auto& [k, v] : m) (*this)[K(k)] = V(v);
  }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  void clear() { entries_.clear(); }

  template <typename Key>
  const_iterator find(const Key& key) const {
    auto it = lowerBoundIn(entries_, key);
    return it != entries_.end() && it->first == key ? it : entries_.end();
  }
  template <typename Key>
  size_t count(const Key& key) const {
    return find(key) == end() ? 0 : 1;
  }
  template <typename Key>
  bool contains(const Key& key) const {
    return count(key) != 0;
  }
  template <typename Key>
  const V& at(const Key& key) const {
    auto it = find(key);
    if (it == end()) throw std::out_of_range("FlatMap::at");
    return it->second;
  }

  V& operator[](const K& key) {
    auto it = lowerBoundIn(entries_, key);
    if (it == entries_.end() || !(it->first == key)) it = entries_.emplace(it, key, V{});
    return it->second;
  }
  // Inserts when absent; {position, inserted} as std::map's.
  std::pair<const_iterator, bool> emplace(const K& key, V value) {
    auto it = lowerBoundIn(entries_, key);
    if (it != entries_.end() && it->first == key) return {it, false};
    return {entries_.emplace(it, key, std::move(value)), true};
  }
  void insert_or_assign(const K& key, V value) { (*this)[key] = std::move(value); }
  template <typename Key>
  size_t erase(const Key& key) {
    auto it = find(key);
    if (it == end()) return 0;
    entries_.erase(it);
    return 1;
  }

  bool operator==(const FlatMap&) const = default;

 private:
  // The first entry not before `key`; Entries is the vector, const or not.
  template <typename Entries, typename Key>
  static auto lowerBoundIn(Entries& entries, const Key& key) {
    return std::lower_bound(entries.begin(), entries.end(), key,
                            [](const value_type& e, const Key& k) { return e.first < k; });
  }
  std::vector<value_type> entries_;
};

}  // namespace warren::state
