#pragma once
// The upstream byte streams (HTTP/1.1 over an HBONE stream, or plain TCP) a
// downstream session keeps between requests, by upstreamKey (route kind, target,
// authority): a later request routed to the same endpoint reuses one rather than
// opening another, and a request routed elsewhere never rides one that goes to a
// different endpoint. Anything arriving on an idle stream (its close, or bytes
// no request asked for) ends it. At most `max` are kept, the oldest let go first.
// Loop thread only; the set owns its streams, so their callbacks die with it.

#include <cstddef>
#include <string>
#include <vector>

#include "io/byte_stream.h"

namespace warren::waypoint {

class IdleUpstreams {
 public:
  explicit IdleUpstreams(size_t max) : max_(max) {}
  ~IdleUpstreams() { clear(); }
  IdleUpstreams(const IdleUpstreams&) = delete;
  IdleUpstreams& operator=(const IdleUpstreams&) = delete;

  // Keeps `up` (not watched by its caller any more) for a later request to `key`.
  void keep(std::string key, io::ByteStreamPtr up);
  // The most recently kept stream for `key`, unwatched; null when there is none.
  io::ByteStreamPtr take(const std::string& key);
  void clear();

 private:
  void drop(const io::ByteStream* up);

  struct Idle {
    std::string key;
    io::ByteStreamPtr up;
  };
  size_t max_;
  std::vector<Idle> idle_;
};

}  // namespace warren::waypoint
