#pragma once
// Connection slots of one telemetry server, counted in total and per source address.
//
// Why per source: 15020/15021 face the pod network. With only a total cap, one pod
// opening `maxConnections` slow connections (each held up to the server's deadline)
// would turn every other client away, Prometheus and the kubelet included. A
// per-source cap means filling the server takes `total / perSource` distinct sources
// (16 with the defaults), and a source at its cap only ever waits for its own slots.
//
// A pure bookkeeping object (no sockets, no clock): the server asks, then acts.
//
// Usage:
//   ConnectionSlots slots(128, 8);
//   switch (slots.take(sourceOf(peer))) { case Admission::kAdmitted: ...; }
//   ... slots.release(source) when that connection closes.

#include <cstddef>
#include <map>
#include <string>

#include <sys/socket.h>

namespace warren::telemetry {

enum class Admission {
  kAdmitted,
  kServerFull,  // `total` connections open
  kSourceFull,  // `perSource` connections open from this source
};

// The label a refusal is logged and counted under ("server_full", "source_full").
const char* admissionName(Admission a);

class ConnectionSlots {
 public:
  // perSource 0 (or >= total) means no per-source cap.
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

}  // namespace warren::telemetry
