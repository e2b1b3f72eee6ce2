#pragma once
// An ordered map whose copies share their contents: the cluster state is
// immutable and swapped whole on every change, and a change to one object must
// not copy the other 100,000. The entries live in sorted chunks of at most
// kMaxChunk, each held by a shared_ptr to const; copying the map copies the
// chunk pointers only, and a write copies the one chunk it touches (splitting a
// full one, merging a small one into its neighbour). Entries never move inside a
// chunk once made, so a pointer to a value is good while any map holding that
// chunk lives: the state's indexes point into its maps.
//
// Reads look like std::map's (find, count, at, ordered iteration with
// structured bindings); there is no mutable access to a value: replace it.

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace warren::state {

template <typename K, typename V, size_t kMaxChunk = 128>
class CowMap {
 public:
  using key_type = K;
  using mapped_type = V;
  using value_type = std::pair<const K, V>;

 private:
  using Chunk = std::vector<value_type>;
  using ChunkPtr = std::shared_ptr<const Chunk>;

 public:
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = CowMap::value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = const value_type&;

    const_iterator() = default;
    reference operator*() const { return (*(*chunks_)[chunk_])[idx_]; }
    pointer operator->() const { return &**this; }
    const_iterator& operator++() {
      if (++idx_ == (*chunks_)[chunk_]->size()) {
        ++chunk_;
        idx_ = 0;
      }
      return *this;
    }
    const_iterator operator++(int) {
      auto old = *this;
      ++*this;
      return old;
    }
    bool operator==(const const_iterator& o) const { return chunk_ == o.chunk_ && idx_ == o.idx_; }

   private:
    friend class CowMap;
    const_iterator(const std::vector<ChunkPtr>* chunks, size_t chunk, size_t idx)
        : chunks_(chunks), chunk_(chunk), idx_(idx) {}
    const std::vector<ChunkPtr>* chunks_ = nullptr;
    size_t chunk_ = 0, idx_ = 0;
  };
  using iterator = const_iterator;

  CowMap() = default;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const_iterator begin() const { return {&chunks_, 0, 0}; }
  const_iterator end() const { return {&chunks_, chunks_.size(), 0}; }

  const_iterator find(const K& key) const {
    size_t c = chunkFor(key);
    if (c == chunks_.size()) return end();
    const Chunk& ch = *chunks_[c];
    auto it = lowerBound(ch, key);
    if (it == ch.end() || it->first != key) return end();
    return {&chunks_, c, static_cast<size_t>(it - ch.begin())};
  }
  size_t count(const K& key) const { return find(key) == end() ? 0 : 1; }
  bool contains(const K& key) const { return count(key) != 0; }
  // nullptr when absent: the cheap form of find() for lookups.
  const V* get(const K& key) const {
    auto it = find(key);
    return it == end() ? nullptr : &it->second;
  }
  const V& at(const K& key) const {
    const V* v = get(key);
    if (!v) throw std::out_of_range("CowMap::at");
    return *v;
  }

  void insert_or_assign(const K& key, V value) {
    if (chunks_.empty()) {
      auto ch = std::make_shared<Chunk>();
      ch->emplace_back(key, std::move(value));
      chunks_.push_back(std::move(ch));
      size_ = 1;
      return;
    }
    size_t c = chunkFor(key);
    if (c == chunks_.size()) c = chunks_.size() - 1;  // after every key: the last chunk grows
    const Chunk& old = *chunks_[c];
    const bool steal = chunks_[c].use_count() == 1;
    auto pos = lowerBound(old, key);
    const bool replace = pos != old.end() && pos->first == key;
    auto fresh = std::make_shared<Chunk>();
    fresh->reserve(old.size() + (replace ? 0 : 1));
    append(*fresh, old.begin(), pos, steal);
    fresh->emplace_back(key, std::move(value));
    append(*fresh, replace ? pos + 1 : pos, old.end(), steal);
    if (!replace) ++size_;
    if (fresh->size() <= kMaxChunk) {
      chunks_[c] = std::move(fresh);
      return;
    }
    // Full: halves, so the next inserts here copy half as much.
    auto mid = fresh->begin() + static_cast<std::ptrdiff_t>(fresh->size() / 2);
    auto tail = std::make_shared<Chunk>(std::make_move_iterator(mid), std::make_move_iterator(fresh->end()));
    auto head = std::make_shared<Chunk>(std::make_move_iterator(fresh->begin()), std::make_move_iterator(mid));
    chunks_[c] = std::move(head);
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1, std::move(tail));
  }

  size_t erase(const K& key) {
    size_t c = chunkFor(key);
    if (c == chunks_.size()) return 0;
    const Chunk& old = *chunks_[c];
    auto pos = lowerBound(old, key);
    if (pos == old.end() || pos->first != key) return 0;
    --size_;
    if (old.size() == 1) {
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
      return 1;
    }
    // A small chunk merges with its next neighbour when both fit in one, so many
    // removals do not leave a long list of near-empty chunks.
    const bool merge = old.size() - 1 < kMaxChunk / 4 && c + 1 < chunks_.size() &&
                       old.size() - 1 + chunks_[c + 1]->size() <= kMaxChunk;
    auto fresh = std::make_shared<Chunk>();
    fresh->reserve(old.size() - 1 + (merge ? chunks_[c + 1]->size() : 0));
    const bool steal = chunks_[c].use_count() == 1;
    append(*fresh, old.begin(), pos, steal);
    append(*fresh, pos + 1, old.end(), steal);
    if (merge) {
      append(*fresh, chunks_[c + 1]->begin(), chunks_[c + 1]->end(), chunks_[c + 1].use_count() == 1);
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1);
    }
    chunks_[c] = std::move(fresh);
    return 1;
  }

  // Appends an entry whose key is above every key held: how a whole build fills
  // the map in order without copying chunks.
  void appendSorted(K key, V value) {
    if (chunks_.empty() || chunks_.back()->size() >= kMaxChunk || chunks_.back().use_count() != 1) {
      // Room for a full chunk at once: growing it by doubling moved each entry twice more.
      auto ch = std::make_shared<Chunk>();
      ch->reserve(kMaxChunk);
      chunks_.push_back(std::move(ch));
    }
    // Sole owner of the last chunk (checked above): filling it in place is safe.
    const_cast<Chunk&>(*chunks_.back()).emplace_back(std::move(key), std::move(value));
    ++size_;
  }

  template <typename Map>
  static CowMap fromSorted(Map&& m) {
    CowMap out;
    for (auto it = m.begin(); it != m.end();) {
      auto node = m.extract(it++);
      out.appendSorted(std::move(node.key()), std::move(node.mapped()));
    }
    return out;
  }

 private:
  // By construction: the keys are const, so vector::insert (which may assign)
  // cannot be used. `steal`: the chunk is this map's alone and is replaced right
  // after, so its values are moved rather than copied (a whole build's policies
  // added one by one would otherwise copy each chunk per insert); no other map
  // or snapshot can see the moved-from values. Keys are copied: they are const.
  static void append(Chunk& to, typename Chunk::const_iterator from, typename Chunk::const_iterator until, bool steal) {
    for (; from != until; ++from) {
      if (steal)
        to.emplace_back(from->first, std::move(const_cast<V&>(from->second)));
      else
        to.push_back(*from);
    }
  }
  static typename Chunk::const_iterator lowerBound(const Chunk& ch, const K& key) {
    return std::lower_bound(ch.begin(), ch.end(), key, [](const value_type& e, const K& k) { return e.first < k; });
  }
  // The first chunk whose last key is >= key; chunks_.size() when none.
  size_t chunkFor(const K& key) const {
    auto it = std::lower_bound(chunks_.begin(), chunks_.end(), key,
                               [](const ChunkPtr& ch, const K& k) { return ch->back().first < k; });
    return static_cast<size_t>(it - chunks_.begin());
  }

  std::vector<ChunkPtr> chunks_;
  size_t size_ = 0;
};

}  // namespace warren::state
