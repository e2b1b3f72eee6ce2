#include "io/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>

#include <spdlog/spdlog.h>

namespace warren::io {

namespace {

// epoll data: fd in the low 32 bits, generation in the high 32.
uint64_t pack(int fd, uint32_t gen) { return (uint64_t{gen} << 32) | static_cast<uint32_t>(fd); }
int unpackFd(uint64_t v) { return static_cast<int>(static_cast<uint32_t>(v)); }
uint32_t unpackGen(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

constexpr int kMaxEventsPerRound = 128;

}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return errnoError("epoll_create1");
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return errnoError("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = pack(wake.get(), 0);
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) return errnoError("epoll_ctl(ADD eventfd)");
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(ep), std::move(wake)));
}

EventLoop::~EventLoop() = default;

Status EventLoop::watch(int fd, uint32_t events, Callback cb) {
  // Generations only need to differ from the ones still in flight in one batch;
  // wrapping after 2^32 watches is harmless. 0 stays reserved for the eventfd.
  if (++lastGeneration_ == 0) ++lastGeneration_;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(fd, lastGeneration_);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
    return errnoError("epoll_ctl(ADD fd " + std::to_string(fd) + ")");
  watches_[fd] = Watch{lastGeneration_, std::make_shared<Callback>(std::move(cb))};
  return okStatus();
}

Status EventLoop::modify(int fd, uint32_t events) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return makeError("BUG: modify of unwatched fd " + std::to_string(fd));
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(fd, it->second.generation);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0)
    return errnoError("epoll_ctl(MOD fd " + std::to_string(fd) + ")");
  return okStatus();
}

void EventLoop::unwatch(int fd) {
  // EBADF when the owner already closed fd is fine: the kernel dropped it then.
  if (watches_.erase(fd)) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

uint64_t EventLoop::addTimer(std::chrono::milliseconds after, std::function<void()> fn) {
  uint64_t id = nextTimerId_++;
  auto it = timers_.emplace(Clock::now() + after, std::make_pair(id, std::move(fn)));
  timerIndex_.emplace(id, it);
  return id;
}

void EventLoop::cancelTimer(uint64_t id) {
  auto it = timerIndex_.find(id);
  if (it == timerIndex_.end()) return;
  timers_.erase(it->second);
  timerIndex_.erase(it);
}

void EventLoop::wake() {
  uint64_t one = 1;
  // Can only fail if the counter would overflow (2^64-2 pending wakes): then the
  // loop is already due to wake.
  (void)!::write(wake_.get(), &one, sizeof(one));
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(postMu_);
    posted_.push_back(std::move(fn));
  }
  wake();
}

void EventLoop::stop() {
  stopping_.store(true, std::memory_order_release);
  wake();
}

void EventLoop::runPosted() {
  // Read the counter before taking the batch: a post() racing with us either lands
  // in this batch or writes the eventfd again after our read, so nothing is missed.
  uint64_t drained;
  (void)!::read(wake_.get(), &drained, sizeof(drained));
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(postMu_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

int EventLoop::nextTimeoutMs() const {
  if (!deferred_.empty() || !roundEnd_.empty()) return 0;  // deferred work waits for nothing
  if (timers_.empty() && !poolDecayAt_) return -1;
  auto next = timers_.empty() ? *poolDecayAt_ : timers_.begin()->first;
  if (poolDecayAt_) next = std::min(next, *poolDecayAt_);
  auto wait = next - Clock::now();
  if (wait <= Clock::duration::zero()) return 0;
  // Round up: waking a little late is fine, waking early just to sleep again isn't.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

void EventLoop::runDueTimers() {
  // Timers added by a callback here are due no earlier than `now`+their delay,
  // which is after `now`: a zero-delay timer re-arming itself cannot spin this loop.
  const auto now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    auto node = timers_.extract(timers_.begin());
    timerIndex_.erase(node.mapped().first);
    node.mapped().second();  // `node` keeps the function alive while it runs
  }
}

void EventLoop::runDeferred() {
  std::vector<std::function<void()>> batch;
  batch.swap(deferred_);
  for (auto& fn : batch) fn();
}

void EventLoop::runRoundEnd() {
  std::vector<std::function<void()>> batch;
  batch.swap(roundEnd_);
  for (auto& fn : batch) fn();
}

void EventLoop::decayBufferPool() {
  if (pool_.kept() == 0) {
    poolDecayAt_.reset();
    return;
  }
  const auto now = Clock::now();
  if (!poolDecayAt_) {
    pool_.decay();  // starts the period: what is kept now may be freed at its end
    poolDecayAt_ = now + poolDecayPeriod_;
  } else if (now >= *poolDecayAt_) {
    pool_.decay();
    poolDecayAt_ = pool_.kept() ? std::optional(now + poolDecayPeriod_) : std::nullopt;
  }
}

void EventLoop::dispatch(const epoll_event& ev) {
  const uint32_t gen = unpackGen(ev.data.u64);
  if (gen == 0) return runPosted();
  auto it = watches_.find(unpackFd(ev.data.u64));
  if (it == watches_.end() || it->second.generation != gen) return;  // stale: see watches_
  auto cb = it->second.cb;
  (*cb)(ev.events);
}

bool EventLoop::round(int timeoutMs) {
  std::array<epoll_event, kMaxEventsPerRound> events;
  int n = ::epoll_wait(epoll_.get(), events.data(), kMaxEventsPerRound, timeoutMs);
  if (n < 0) {
    if (errno == EINTR) return true;
    // Only EBADF/EFAULT/EINVAL are possible: a programming error, not load.
    spdlog::critical("BUG: epoll_wait: {}; event loop stopping", std::strerror(errno));
    return false;
  }
  for (int i = 0; i < n; ++i) dispatch(events[static_cast<size_t>(i)]);
  runDueTimers();
  runDeferred();
  runRoundEnd();
  decayBufferPool();
  return true;
}

void EventLoop::run() {
  BufferPool::Use pool(pool_);
  loopThread_.store(std::this_thread::get_id(), std::memory_order_release);
  while (!stopping_.load(std::memory_order_acquire))
    if (!round(nextTimeoutMs())) break;
  loopThread_.store(std::thread::id{}, std::memory_order_release);
}

void EventLoop::runOnce(std::chrono::milliseconds maxWait) {
  BufferPool::Use pool(pool_);
  loopThread_.store(std::this_thread::get_id(), std::memory_order_release);
  const int next = nextTimeoutMs();
  const int wait = static_cast<int>(std::min<int64_t>(maxWait.count(), INT_MAX));
  (void)round(next < 0 ? wait : std::min(next, wait));
  loopThread_.store(std::thread::id{}, std::memory_order_release);
}

}  // namespace warren::io
