#include "io/accept.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>

#include "io/tcp.h"

namespace warren::io {
namespace {

std::atomic<uint64_t> shed{0};

// One descriptor held in reserve, released only to take a connection we cannot keep.
std::mutex spareMu;
int spare = -1;

int openSpare() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

void reserveAcceptSpare() {
  std::lock_guard lock(spareMu);
  if (spare < 0) spare = openSpare();
}

Accepted acceptOrShed(int listener) {
  Accepted a;
  reserveAcceptSpare();  // first use, or re-armed after shedding
  int c = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (c >= 0) {
    a.outcome = AcceptOutcome::Accepted;
    a.fd = UniqueFd(c);
    return a;
  }
  const int err = errno;
  if (err == EAGAIN || err == EWOULDBLOCK || err == ECONNABORTED || err == EINTR) {
    a.outcome = AcceptOutcome::WouldBlock;
    return a;
  }
  if (err != EMFILE && err != ENFILE) {
    a.outcome = AcceptOutcome::Failed;
    errno = err;
    return a;
  }
  std::lock_guard lock(spareMu);
  if (spare >= 0) {
    ::close(spare);
    spare = -1;
  }
  c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (c >= 0) {
    resetOnClose(c);  // RST, not FIN: the client must not wait on a connection nobody serves
    ::close(c);
    shed++;
    a.outcome = AcceptOutcome::Shed;
  } else {
    a.outcome = errno == EAGAIN || errno == EWOULDBLOCK ? AcceptOutcome::WouldBlock : AcceptOutcome::Failed;
  }
  spare = openSpare();
  return a;
}

uint64_t shedConnections() { return shed.load(); }

uint64_t openFileCount() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return 0;
  uint64_t n = 0;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n > 0 ? n - 1 : 0;  // not the directory's own descriptor
}

uint64_t fileLimit() {
  rlimit r{};
  return ::getrlimit(RLIMIT_NOFILE, &r) == 0 ? static_cast<uint64_t>(r.rlim_cur) : 0;
}

uint64_t raiseFileLimit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    rlimit raised = r;
    raised.rlim_cur = r.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) r = raised;
  }
  return static_cast<uint64_t>(r.rlim_cur);
}

}  // namespace warren::io
