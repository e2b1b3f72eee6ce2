#pragma once
// Copies bytes both ways between two connected stream sockets on the loop.
//
// - Bounded: each direction has one buffer of at most bufferBytes; while it is full
//   the relay stops reading that side, so a slow reader pushes back on the writer
//   (through the kernel's socket buffers) instead of growing memory. A direction
//   holds no buffer at all while it is idle, so idle connections cost ~no memory.
// - Half-close: EOF from one side is forwarded, after the buffered bytes, as
//   shutdown(SHUT_WR) on the other; the other direction keeps flowing.
// - Reset: a reset or error on either side ends the relay and closes both sides with
//   an RST (SO_LINGER {1, 0}), so a reset propagates as a reset, never as a clean EOF.
//
// Plain read/write through a user-space buffer rather than splice(2): HBONE will
// put TLS on one side, which needs the bytes in user space anyway, and splice would
// add two pipes (four fds) per relay.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "io/event_loop.h"

namespace warren::proxy {

struct RelayStats {
  uint64_t bytesAtoB = 0;  // bytes written to b (delivered to its socket)
  uint64_t bytesBtoA = 0;
  std::chrono::steady_clock::duration duration{};
  // "closed" (both sides sent EOF and everything was delivered), "reset by a",
  // "reset by b", or "error: <what failed>".
  std::string endReason;
};

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  // Starts relaying; call on the loop thread. a and b are made non-blocking. The
  // relay keeps itself alive until both directions end; onDone then runs exactly
  // once, on the loop thread, never inside start() (it is posted if the relay
  // cannot even start), and after both sockets are closed. The returned pointer is
  // only for observation; dropping it does not stop the relay.
  static std::shared_ptr<Relay> start(io::EventLoop& loop, UniqueFd a, UniqueFd b,
                                      std::function<void(const RelayStats&)> onDone, size_t bufferBytes = 64 * 1024);

  // Bytes read from one side and not yet written to the other; at most bufferBytes
  // per direction. Loop thread.
  size_t bufferedBytes() const { return ab_.pending() + ba_.pending(); }
  bool done() const { return done_; }
  // Ends the relay now, resetting both sides (e.g. a policy change revoked the
  // connection); onDone reports `reason`. Loop thread; no-op once done.
  void abort(const std::string& reason) { finish(reason, true); }

 private:
  enum class Side { A, B };
  struct Direction {
    std::unique_ptr<char[]> buf;  // allocated only while bytes are in flight
    size_t head = 0, tail = 0;    // pending bytes are buf[head, tail)
    bool eof = false;             // the source sent FIN
    bool shut = false;            // ... and it was forwarded to the sink
    uint64_t bytes = 0;           // delivered to the sink
    size_t pending() const { return tail - head; }
  };
  struct End {
    UniqueFd fd;
    uint32_t events = 0;  // what epoll watches; 0 = not registered
  };

  Relay(io::EventLoop& loop, UniqueFd a, UniqueFd b, std::function<void(const RelayStats&)> onDone, size_t capacity);
  End& end(Side s) { return s == Side::A ? a_ : b_; }
  Direction& from(Side s) { return s == Side::A ? ab_ : ba_; }
  Direction& into(Side s) { return s == Side::A ? ba_ : ab_; }

  void onEvent(Side side, uint32_t events);
  // Moves what it can from `src` to the other side. Returns an end reason, or ""
  // to carry on.
  std::string pump(Direction& d, Side src);
  std::string socketError(Side side);
  Status updateInterest();
  Status setInterest(Side side, uint32_t want);
  void finish(const std::string& reason, bool abort);

  io::EventLoop& loop_;
  End a_, b_;
  Direction ab_, ba_;
  const size_t capacity_;
  std::function<void(const RelayStats&)> onDone_;
  std::chrono::steady_clock::time_point started_;
  bool done_ = false;
};

}  // namespace warren::proxy
