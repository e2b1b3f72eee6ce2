#pragma once
// Connection slots of one listener, counted in total and per source: the admission
// every listener that faces other machines or pods uses (the telemetry ports, the
// tunnel's inbound HBONE 15008, the waypoint's 15008, the tunnel's plaintext ones).
//
// Why per source: with only a total cap, one peer opening `total` idle or slow
// connections would turn every other client away and take the process's
// descriptors. A per-source cap means filling the listener takes `total / perSource`
// distinct sources, and a source at its cap only ever waits for its own slots.
// Admission is decided on arrival, before any TLS or parsing work; a refused
// connection is reset and counted by the caller.
//
// A pure bookkeeping object (no sockets, no clock): the listener asks, then acts.
//
// Usage:
//   ConnectionSlots slots(128, 8);
//   switch (slots.take(sourceKey(peer))) { case Admission::kAdmitted: ...; }
//   ... slots.release(source) when that connection closes.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <sys/socket.h>

namespace warren::io {

enum class Admission {
  kAdmitted,
  kServerFull,  // `total` connections open
  kSourceFull,  // `perSource` connections open from this source
};

// The label a refusal is logged and counted under ("server_full", "source_full").
const char* admissionName(Admission a);

// The two caps of one listener, as flags and options carry them.
struct SlotLimits {
  size_t total = 0;      // resolved: 0 admits nothing (see totalCap)
  size_t perSource = 0;  // 0: no per-source cap
};

class ConnectionSlots {
 public:
  explicit ConnectionSlots(SlotLimits limits) : ConnectionSlots(limits.total, limits.perSource) {}
  // perSource 0 (or >= total) means no per-source cap. total 0 admits nothing: a
  // flag whose 0 means "derived from the fd limit" is resolved before (totalCap).
  ConnectionSlots(size_t total, size_t perSource);

  // Takes a slot for `source` if both caps allow it.
  Admission take(const std::string& source);
  // Gives back a slot taken for `source`. Releasing one never taken is a BUG (ignored).
  void release(const std::string& source);

  size_t open() const { return open_; }
  size_t openFrom(const std::string& source) const;

 private:
  size_t total_, perSource_;
  size_t open_ = 0;
  std::map<std::string, size_t> bySource_;  // only sources with a slot open: bounded by total_
};

// The source key of a peer address: its IP bytes without the port, an IPv4-mapped
// IPv6 address read as the IPv4 one (a dual-stack listener sees both forms of one
// client). Ports differ per connection, so keying by them would cap nothing.
std::string sourceKey(const sockaddr_storage& peer);

// A total cap given as a flag where 0 means "half the file descriptor limit": the
// other half stays for the connections the admitted ones lead to (apps, upstreams)
// and the rest of the process. Never 0 (that would admit nothing).
// `share` 4: a quarter of it (listeners whose connections take two descriptors).
size_t totalCap(size_t flag, uint64_t fileLimit, unsigned share = 2);

// A slot held for as long as the lease (any copy of it) lives: for connections
// whose end is reached by many paths (a relay, an HBONE stream, an early refusal),
// each holding a copy of the connection's record. Holds the slots alive too, so a
// lease outliving its listener's owner is harmless. Loop thread only.
using SlotLease = std::shared_ptr<const void>;
struct LeaseResult {
  Admission admission;
  SlotLease lease;  // set when admitted
};
LeaseResult takeLease(const std::shared_ptr<ConnectionSlots>& slots, const std::string& source);

}  // namespace warren::io
