#include "ztunnel/io/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace warren::io {

namespace {
// epoll data: fd in the low 32 bits, generation in the high 32.
uint64_t pack(int fd, uint64_t gen) { return (gen << 32) | static_cast<uint32_t>(fd); }
int unpackFd(uint64_t v) { return static_cast<int>(v & 0xffffffffu); }
uint64_t unpackGen(uint64_t v) { return v >> 32; }
}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return errnoError("epoll_create1");
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return errnoError("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = pack(wake.get(), 0);
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) return errnoError("epoll_ctl(eventfd)");
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(ep), std::move(wake)));
}

EventLoop::~EventLoop() = default;

Status EventLoop::watch(int fd, uint32_t events, Callback cb) {
  uint64_t gen = nextGeneration_++ & 0xffffffffu;
  if (gen == 0) gen = nextGeneration_++;  // 0 is the eventfd's
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(fd, gen);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return errnoError("epoll_ctl(ADD)");
  watches_[fd] = Watch{gen, std::make_shared<Callback>(std::move(cb))};
  return okStatus();
}

Status EventLoop::modify(int fd, uint32_t events) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return makeError("BUG: modify of an unwatched fd");
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(fd, it->second.generation);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) return errnoError("epoll_ctl(MOD)");
  return okStatus();
}

void EventLoop::unwatch(int fd) {
  if (watches_.erase(fd)) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

uint64_t EventLoop::addTimer(std::chrono::milliseconds after, std::function<void()> fn) {
  uint64_t id = nextTimerId_++;
  auto it = timers_.emplace(std::chrono::steady_clock::now() + after, std::make_pair(id, std::move(fn)));
  timerIndex_[id] = it;
  return id;
}

void EventLoop::cancelTimer(uint64_t id) {
  auto it = timerIndex_.find(id);
  if (it == timerIndex_.end()) return;
  timers_.erase(it->second);
  timerIndex_.erase(it);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(postMu_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
}

void EventLoop::stop() {
  {
    std::lock_guard lock(postMu_);
    stopping_ = true;
  }
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
}

void EventLoop::runPosted() {
  uint64_t drained;
  (void)!::read(wake_.get(), &drained, sizeof(drained));
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(postMu_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

int EventLoop::nextTimeoutMs() {
  if (timers_.empty()) return -1;
  auto wait = timers_.begin()->first - std::chrono::steady_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count();
  return ms < 0 ? 0 : static_cast<int>(ms + 1);
}

void EventLoop::runDueTimers() {
  auto now = std::chrono::steady_clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    auto node = timers_.extract(timers_.begin());
    timerIndex_.erase(node.mapped().first);
    node.mapped().second();
  }
}

void EventLoop::run() {
  loopThread_ = std::this_thread::get_id();
  epoll_event events[128];
  for (;;) {
    {
      std::lock_guard lock(postMu_);
      if (stopping_) break;
    }
    int n = ::epoll_wait(epoll_.get(), events, 128, nextTimeoutMs());
    if (n < 0 && errno != EINTR) {
      spdlog::critical("BUG: epoll_wait: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t data = events[i].data.u64;
      uint64_t gen = unpackGen(data);
      int fd = unpackFd(data);
      if (gen == 0) {
        runPosted();
        continue;
      }
      auto it = watches_.find(fd);
      if (it == watches_.end() || it->second.generation != gen) continue;  // stale
      auto cb = it->second.cb;  // keep alive: the callback may unwatch itself
      (*cb)(events[i].events);
    }
    runDueTimers();
  }
}

}  // namespace warren::io
