#pragma once
// Where the state's bytes go, per field: each object's inline size (sizeof) and
// the heap blocks it owns, in glibc's chunk sizes (8 bytes of header, rounded
// to 16, at least 32), so a per-workload figure can be read next to the
// process's heap in use (mallinfo2). An estimate from the standard containers'
// layout (libstdc++: a string holds 15 chars inline, a map node has 32 bytes of
// links), not a measurement: the bench prints both, and the gap between them is
// what no field names (the state's private indexes, the copy-on-write chunks'
// spare room).

#include <malloc.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "state/cluster_state.h"

namespace warren::bench {

inline size_t heapChunk(size_t request) {
  const size_t n = (request + 8 + 15) & ~size_t{15};
  return n < 32 ? 32 : n;
}

// The heap a value owns beyond its own sizeof.
inline size_t heapOf(const std::string& s) { return s.capacity() > 15 ? heapChunk(s.capacity() + 1) : 0; }
inline size_t heapOf(uint32_t) { return 0; }
inline size_t heapOf(const state::ServicePort&) { return 0; }
inline size_t heapOf(state::MtlsMode) { return 0; }
template <typename T>
size_t heapOf(const std::vector<T>& v) {
  size_t n = v.capacity() ? heapChunk(v.capacity() * sizeof(T)) : 0;
  for (const auto& e : v) n += heapOf(e);
  return n;
}
template <typename K, typename V>
size_t heapOf(const std::map<K, V>& m) {
  size_t n = 0;
  for (const auto& [k, v] : m) n += heapChunk(32 + sizeof(std::pair<const K, V>)) + heapOf(k) + heapOf(v);
  return n;
}
// An atom's string is the process's, held once: the workload pays its pointer.
inline size_t heapOf(const state::Atom&) { return 0; }
template <typename K, typename V>
size_t heapOf(const state::FlatMap<K, V>& m) {
  size_t n = m.size() ? heapChunk(m.size() * sizeof(std::pair<K, V>)) : 0;  // capacity is not exposed: size
  for (const auto& [k, v] : m) n += heapOf(k) + heapOf(v);
  return n;
}
inline size_t heapOf(const identity::SpiffeId& id) {
  return heapOf(id.trustDomain) + heapOf(id.ns) + heapOf(id.serviceAccount);
}
inline size_t heapOf(const state::MtlsPolicy& m) {
  return heapOf(m.decidedBy) + heapOf(m.portModes) + heapOf(m.portDecidedBy);
}

// Per workload, by field: {field, inline bytes, heap bytes}, summed over the
// state's workloads, plus the map entry's key and the entry itself.
inline nlohmann::json workloadBytes(const state::ClusterState& st) {
  struct Field {
    const char* name;
    size_t inl = 0, heap = 0;
  };
  std::vector<Field> f = {{"uid"},
                          {"name"},
                          {"ns"},
                          {"serviceAccount"},
                          {"node"},
                          {"labels"},
                          {"ips"},
                          {"captureReason"},
                          {"identity"},
                          {"services"},
                          {"policies"},
                          {"mtls"},
                          {"waypoint"},
                          {"map key (uid)"},
                          {"the rest (flags, padding)"}};
  size_t n = 0;
  for (const auto& [key, w] : st.workloads()) {
    ++n;
    size_t i = 0;
    auto add = [&](const auto& v) {
      f[i].inl += sizeof(v);
      f[i].heap += heapOf(v);
      ++i;
    };
    add(w.uid);
    add(w.name);
    add(w.ns);
    add(w.serviceAccount);
    add(w.node);
    add(w.labels);
    add(w.ips);
    add(w.captureReason);
    add(w.identity);
    add(w.services);
    add(w.policies);
    add(w.mtls);
    add(w.waypoint);
    add(key);
  }
  size_t named = 0;
  for (size_t i = 0; i + 1 < f.size(); ++i) named += f[i].inl;
  f.back().inl = n * sizeof(std::pair<const std::string, state::Workload>) - named;
  nlohmann::json out = nlohmann::json::object();
  size_t total = 0;
  for (const auto& x : f) {
    const double per = n ? static_cast<double>(x.inl + x.heap) / static_cast<double>(n) : 0;
    out[x.name] = per;
    total += x.inl + x.heap;
  }
  out["total"] = n ? static_cast<double>(total) / static_cast<double>(n) : 0;
  return out;
}

// The heap in use (allocated, not freed) now, in bytes.
inline size_t heapInUse() { return mallinfo2().uordblks; }
// Freed and kept by malloc (after malloc_trim: the free pieces smaller than a
// page, or on a page something still uses), in bytes.
inline size_t heapFree() { return mallinfo2().fordblks; }

}  // namespace warren::bench
