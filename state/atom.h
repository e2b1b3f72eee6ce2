#pragma once
// An interned immutable string: the state's highly repeated values (namespaces,
// service accounts, nodes, label keys, service and policy keys) are
// held once per process and each workload keeps a pointer (8 bytes) instead of
// its own std::string (32 bytes, plus a heap block past 15 characters). At
// 100,000 workloads the same few thousand strings were held a million times.
//
// The table is process-wide, sharded by hash with a mutex per shard (sources
// convert on their own threads), and never frees: a state read on another
// thread may point at any atom, and what the table keeps is bounded by the
// distinct values the cluster ever used, not by its size. Do not intern what is
// unique per object (uids, pod names, IPs): those would grow it with churn.
//
// Reading code sees a `const std::string&` (implicit, or str()), so most of it
// does not change; two atoms are equal when their pointers are, and order as
// their strings do, so maps keyed by atoms keep std::string's order.

#include <compare>
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace warren::state {

class Atom {
 public:
  Atom() : s_(emptyString()) {}
  Atom(std::string_view s) : s_(intern(s)) {}  // NOLINT: implicit, as a std::string is made
  Atom(const std::string& s) : Atom(std::string_view(s)) {}
  Atom(const char* s) : Atom(std::string_view(s)) {}

  const std::string& str() const { return *s_; }
  operator const std::string&() const { return *s_; }  // NOLINT: reads as the string it holds
  operator std::string_view() const { return *s_; }

  // std::string's reading members, so that code written for a string field reads on.
  bool empty() const { return s_->empty(); }
  size_t size() const { return s_->size(); }
  const char* c_str() const { return s_->c_str(); }
  const char* data() const { return s_->data(); }
  size_t find(std::string_view what, size_t pos = 0) const { return s_->find(what, pos); }
  size_t find(char c, size_t pos = 0) const { return s_->find(c, pos); }
  std::string substr(size_t pos, size_t n = std::string::npos) const { return s_->substr(pos, n); }
  bool starts_with(std::string_view p) const { return s_->starts_with(p); }
  std::string::const_iterator begin() const { return s_->begin(); }
  std::string::const_iterator end() const { return s_->end(); }

  // Interned: one string, one pointer.
  friend bool operator==(const Atom& a, const Atom& b) { return a.s_ == b.s_; }
  friend std::strong_ordering operator<=>(const Atom& a, const Atom& b) {
    if (a.s_ == b.s_) return std::strong_ordering::equal;
    return a.s_->compare(*b.s_) <=> 0;
  }
  friend bool operator==(const Atom& a, std::string_view b) { return *a.s_ == b; }
  friend std::strong_ordering operator<=>(const Atom& a, std::string_view b) { return a.s_->compare(b) <=> 0; }
  friend bool operator==(const Atom& a, const std::string& b) { return *a.s_ == b; }
  friend std::strong_ordering operator<=>(const Atom& a, const std::string& b) { return a.s_->compare(b) <=> 0; }
  friend bool operator==(const Atom& a, const char* b) { return *a.s_ == b; }
  friend std::strong_ordering operator<=>(const Atom& a, const char* b) { return a.s_->compare(b) <=> 0; }

  friend std::string operator+(const Atom& a, std::string_view b) { return std::string(*a.s_).append(b); }
  friend std::string operator+(const Atom& a, const char* b) { return *a.s_ + b; }
  friend std::string operator+(const Atom& a, const std::string& b) { return *a.s_ + b; }
  friend std::string operator+(const Atom& a, const Atom& b) { return *a.s_ + *b.s_; }
  friend std::string operator+(std::string a, const Atom& b) { return a.append(*b.s_); }
  friend std::string operator+(const char* a, const Atom& b) { return a + *b.s_; }
  friend std::ostream& operator<<(std::ostream& o, const Atom& a) { return o << *a.s_; }

  // How many distinct strings the table holds (for tests and the bench).
  static size_t tableSize();

 private:
  static const std::string* intern(std::string_view s);
  static const std::string* emptyString();
  const std::string* s_;
};

}  // namespace warren::state

template <>
struct std::hash<warren::state::Atom> {
  size_t operator()(const warren::state::Atom& a) const noexcept { return std::hash<std::string>()(a.str()); }
};
