#pragma once
// The tunnel's single epoll loop: every listener, connection and timer of the
// data path runs on one thread, so connection state needs no locks and memory per
// connection stays small and predictable.

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace warren::io {

class EventLoop {
 public:
  using Callback = std::function<void(uint32_t epollEvents)>;

  static Result<std::unique_ptr<EventLoop>> create();
  ~EventLoop();

  // Loop thread only (or before run()).
  Status watch(int fd, uint32_t events, Callback cb);
  Status modify(int fd, uint32_t events);
  void unwatch(int fd);
  uint64_t addTimer(std::chrono::milliseconds after, std::function<void()> fn);
  void cancelTimer(uint64_t id);

  // Any thread.
  void post(std::function<void()> fn);
  void stop();

  void run();
  bool inLoopThread() const { return std::this_thread::get_id() == loopThread_; }

 private:
  EventLoop(UniqueFd epoll, UniqueFd wake) : epoll_(std::move(epoll)), wake_(std::move(wake)) {}
  void runPosted();
  int nextTimeoutMs();
  void runDueTimers();

  struct Watch {
    uint64_t generation;
    std::shared_ptr<Callback> cb;
  };

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: post() and stop() wake epoll_wait
  std::thread::id loopThread_;
  // fd -> current watch. epoll's data carries the generation, so an event for an
  // fd that was unwatched (or reused) earlier in the same batch is recognised as
  // stale and dropped instead of calling a dead callback.
  std::unordered_map<int, Watch> watches_;
  uint64_t nextGeneration_ = 1;

  // Timers: a multimap ordered by deadline. Tunnel timers are few (connect
  // timeouts), so a sorted map is simpler than a heap with lazy deletion.
  std::multimap<std::chrono::steady_clock::time_point, std::pair<uint64_t, std::function<void()>>> timers_;
  std::unordered_map<uint64_t, decltype(timers_)::iterator> timerIndex_;
  uint64_t nextTimerId_ = 1;

  std::mutex postMu_;
  std::vector<std::function<void()>> posted_;
  bool stopping_ = false;
};

}  // namespace warren::io
