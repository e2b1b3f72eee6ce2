#pragma once
// The tunnel's single epoll loop: every listener, connection and timer of the
// data path runs on one thread, so connection state needs no locks and memory per
// connection stays small and predictable.
//
// Watches are level-triggered by design: an event that arrives for a watch that was
// replaced earlier in the same batch is dropped (see run()), and level triggering is
// what makes dropping it safe — the kernel reports the condition again next round.

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "io/buffer_pool.h"

namespace warren::io {

class EventLoop {
 public:
  using Callback = std::function<void(uint32_t epollEvents)>;

  static Result<std::unique_ptr<EventLoop>> create();
  // Pending posted tasks and timers are dropped, not run; watch callbacks are
  // destroyed (closing whatever they own). Call after run() returned.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // --- Loop thread only (or before run() starts). ---

  // Calls cb with the ready events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP...) until
  // unwatch(fd). Do not pass EPOLLET or EPOLLONESHOT (see the note at the top).
  // Unwatch before closing fd: epoll forgets a closed fd only when no dup of it lives.
  Status watch(int fd, uint32_t events, Callback cb);
  Status modify(int fd, uint32_t events);
  // Safe from any callback, for any fd, including the running callback's own: the
  // running callback stays alive until it returns, and an event for fd already
  // fetched in this batch is never delivered afterwards, even if fd's number is
  // reused for a new watch in the meantime.
  void unwatch(int fd);

  // fn runs once on the loop, no earlier than `after` from now; timers due in the
  // same round run in deadline order (ties: in the order they were added).
  uint64_t addTimer(std::chrono::milliseconds after, std::function<void()> fn);
  // Destroys the timer's function immediately; unknown or already-fired ids are
  // ignored, so cancelling from the timer's own callback is harmless.
  void cancelTimer(uint64_t id);

  // fn runs on this thread at the end of the current round (after its events and
  // timers), before the loop waits again; tasks deferred by deferred tasks run in
  // the next round. What post() does, without waking epoll through the eventfd:
  // for work the loop thread hands to itself (in-process streams' readiness).
  void defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }
  // fn runs on this thread once this round's deferred work is done: for output
  // that many events of one round add to (an HTTP/2 connection's frames for its
  // streams), written once. Tasks it adds run at the end of the next round.
  void atRoundEnd(std::function<void()> fn) { roundEnd_.push_back(std::move(fn)); }

  size_t watchCount() const { return watches_.size(); }
  size_t timerCount() const { return timers_.size(); }  // addTimer's; not the buffer pool's decay

  // The data path's spare 256 KiB buffers (buffer_pool.h), installed on the thread
  // while the loop runs; decayed once per period while it holds any.
  BufferPool& bufferPool() { return pool_; }
  void setBufferPoolDecayPeriod(std::chrono::milliseconds period) { poolDecayPeriod_ = period; }

  // --- Any thread. ---

  // fn runs on the loop thread, in post order. Tasks still queued when the loop
  // stops are dropped.
  void post(std::function<void()> fn);
  // run() returns after the callbacks of the current round.
  void stop();

  // Runs until stop(); on one thread at a time.
  void run();
  // One round on the calling thread: waits up to `maxWait` for events (not at all
  // when work is deferred), dispatches them, runs due timers and deferred work.
  // For tests that step the loop; ignores stop().
  void runOnce(std::chrono::milliseconds maxWait);
  bool inLoopThread() const { return loopThread_.load(std::memory_order_acquire) == std::this_thread::get_id(); }

 private:
  EventLoop(UniqueFd epoll, UniqueFd wake) : epoll_(std::move(epoll)), wake_(std::move(wake)) {}
  void wake();
  void runPosted();
  int nextTimeoutMs() const;
  void runDueTimers();
  void runDeferred();
  void runRoundEnd();
  void decayBufferPool();
  void dispatch(const epoll_event& ev);
  // One round; false only when epoll_wait failed for good.
  bool round(int timeoutMs);

  struct Watch {
    uint32_t generation;
    // shared so that dispatch can keep it alive while it runs: the callback may
    // unwatch (and so destroy the map entry of) its own fd.
    std::shared_ptr<Callback> cb;
  };

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: post() and stop() wake epoll_wait
  std::atomic<std::thread::id> loopThread_{};
  std::atomic<bool> stopping_{false};

  // fd -> current watch. epoll's data carries fd and generation, so an event for an
  // fd that was unwatched (or unwatched, closed, reused and watched again) earlier in
  // the same batch is recognised as stale and dropped, never handed to a callback
  // that was destroyed or that belongs to a different socket.
  std::unordered_map<int, Watch> watches_;
  uint32_t lastGeneration_ = 0;  // generation 0 tags the wake eventfd

  // Timers: an ordered multimap plus an id index, rather than a binary heap with
  // lazy deletion, because cancellation is the common case (every connect that
  // succeeds cancels its timeout) and must free the timer's closure — which owns
  // sockets and callbacks — at once instead of at the deadline. Both are O(log n).
  // The deadline drives epoll_wait's timeout instead of a timerfd: no extra fd or
  // syscall per timer change, and millisecond resolution is all that connect and
  // idle timeouts need.
  using Clock = std::chrono::steady_clock;
  std::multimap<Clock::time_point, std::pair<uint64_t, std::function<void()>>> timers_;
  std::unordered_map<uint64_t, decltype(timers_)::iterator> timerIndex_;
  uint64_t nextTimerId_ = 1;

  // Spare buffers: at most 16 (4 MiB), enough for the streams and TLS connections
  // one burst of a busy loop drains and fills again.
  static constexpr size_t kPooledBufferBytes = 256u << 10;
  BufferPool pool_{kPooledBufferBytes, 16};
  std::chrono::milliseconds poolDecayPeriod_{1000};
  std::optional<Clock::time_point> poolDecayAt_;  // set while the pool holds buffers

  std::mutex postMu_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> deferred_;  // loop thread only
  std::vector<std::function<void()>> roundEnd_;  // loop thread only
};

}  // namespace warren::io
