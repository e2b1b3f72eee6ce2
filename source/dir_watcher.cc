#include "source/dir_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace warren::source {

namespace {
// Quiet time after the last event before calling back: long enough to span a
// write-then-rename save, short enough to keep relabels well under a second.
constexpr int kDebounceMs = 50;
// ...but a steady stream of writes must not postpone the reload indefinitely.
constexpr int kMaxDelayMs = 200;
}  // namespace

Result<std::unique_ptr<DirWatcher>> DirWatcher::start(const std::string& dir, std::function<void()> onChange) {
  UniqueFd in(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!in) return errnoError("inotify_init1");
  uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB;
  if (::inotify_add_watch(in.get(), dir.c_str(), mask) < 0) return errnoError("watch " + dir);
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return errnoError("eventfd");
  return std::unique_ptr<DirWatcher>(new DirWatcher(std::move(in), std::move(wake), std::move(onChange)));
}

DirWatcher::DirWatcher(UniqueFd inotify, UniqueFd wake, std::function<void()> onChange)
    : inotify_(std::move(inotify)), wake_(std::move(wake)), onChange_(std::move(onChange)) {
  thread_ = std::thread([this] { run(); });
}

DirWatcher::~DirWatcher() {
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
  thread_.join();
}

void DirWatcher::run() {
  using Clock = std::chrono::steady_clock;
  bool pending = false;
  Clock::time_point firstEvent;
  char buf[4096] __attribute__((aligned(alignof(inotify_event))));
  for (;;) {
    int timeout = -1;
    if (pending) {
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - firstEvent).count();
      timeout = static_cast<int>(std::max<long>(0, std::min<long>(kDebounceMs, kMaxDelayMs - waited)));
    }
    pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    int rc = ::poll(fds, 2, timeout);
    if (rc < 0) {
      // EINTR is routine; anything else would spin this loop, so back off.
      if (errno != EINTR) std::this_thread::sleep_for(std::chrono::milliseconds(kDebounceMs));
      continue;
    }
    if (fds[1].revents) return;
    if (rc > 0 && fds[0].revents) {
      while (::read(inotify_.get(), buf, sizeof(buf)) > 0) {
        if (!pending) firstEvent = Clock::now();
        pending = true;
      }
    }
    if (!pending) continue;
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - firstEvent).count();
    if (rc == 0 || waited >= kMaxDelayMs) {  // quiet for a moment, or waited long enough
      pending = false;
      onChange_();
    }
  }
}

}  // namespace warren::source
