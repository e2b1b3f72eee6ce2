#pragma once
// Copies bytes both ways between two connected non-blocking sockets on the loop.
// Each direction has one bounded buffer: when it is full the relay stops reading
// that side, so a slow reader pushes back on the writer instead of growing memory.
// EOF is forwarded as a half-close; a reset on one side becomes a reset on the other.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "ztunnel/io/event_loop.h"

namespace warren::proxy {

struct RelayStats {
  uint64_t bytesAtoB = 0;
  uint64_t bytesBtoA = 0;
  std::chrono::steady_clock::duration duration{};
  std::string endReason;  // "closed", "reset by a", "reset by b", "error: ..."
};

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  // Starts relaying (loop thread). The relay keeps itself alive until both
  // directions end; onDone runs exactly once, on the loop thread.
  static std::shared_ptr<Relay> start(io::EventLoop& loop, UniqueFd a, UniqueFd b,
                                      std::function<void(const RelayStats&)> onDone,
                                      size_t bufferBytes = 64 * 1024);
  size_t bufferedBytes() const;

 private:
  struct Direction {
    std::vector<char> buf;
    size_t head = 0, tail = 0;  // pending bytes are buf[head, tail)
    bool eof = false;           // the source sent FIN
    bool shut = false;          // FIN forwarded to the sink
    uint64_t bytes = 0;
    size_t pending() const { return tail - head; }
  };
  enum class Side { A, B };

  Relay(io::EventLoop& loop, UniqueFd a, UniqueFd b, std::function<void(const RelayStats&)> onDone, size_t bytes);
  void onEvent(Side side, uint32_t events);
  // Reads what fits from `from` into d, writes what it can to `to`.
  // Returns an error reason, or "" to carry on.
  std::string pump(Direction& d, int from, int to, Side fromSide);
  void updateInterest();
  void setInterest(int fd, Side side, uint32_t events, uint32_t& current);
  void finish(const std::string& reason, int resetFd);

  io::EventLoop& loop_;
  UniqueFd a_, b_;
  Direction ab_, ba_;
  uint32_t aEvents_ = 0, bEvents_ = 0;  // what epoll currently watches (0 = not registered)
  std::function<void(const RelayStats&)> onDone_;
  std::chrono::steady_clock::time_point started_;
  bool done_ = false;
};

}  // namespace warren::proxy
