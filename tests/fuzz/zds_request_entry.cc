// The agent's ZDS requests as the tunnel applies them (tunnel/inpod/zds_requests.h),
// without the socket: each message's bytes and the fds SCM_RIGHTS would have
// brought (eventfds here) go through ZdsRequests::apply on one connection, to a
// fake WorkloadHandler that refuses uids starting with 'x'.
// Input: messages, each one byte (bits 0-1: fds attached, 0-2, as many as
// receiveMessage lets through), two bytes of length (big-endian), then the
// message's bytes (a WorkloadRequest).
// Invariants: the handler gets an add only with exactly one fd, open, and a uid;
// no other request with an fd reaches it; no request without a uid; an fd the
// handler never saw is still open until the message goes, and every fd is closed
// once the message and the handler are done with it; SnapshotSent names exactly the workloads added or kept and not
// removed since the connection began, and nothing the handler refused.
#include <fcntl.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include "common/zds/seqpacket.h"
#include "tests/fuzz/fuzz_entries.h"
#include "tunnel/inpod/zds_requests.h"

namespace warren::fuzz {
namespace {

bool isOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

class FakeHandler final : public inpod::WorkloadHandler {
 public:
  Status addWorkload(const inpod::WorkloadInfo& info, UniqueFd netns) override {
    FUZZ_CHECK(!info.uid.empty());
    FUZZ_CHECK(netns && isOpen(netns.get()));
    FUZZ_CHECK(expectFd == netns.get());
    calls++;
    if (info.uid[0] == 'x') return makeError("refused");  // netns closes here
    live.insert(info.uid);
    return okStatus();
  }
  Status keepWorkload(const std::string& uid) override {
    FUZZ_CHECK(!uid.empty() && expectFd == -1);
    calls++;
    if (uid[0] == 'x') return makeError("refused");
    live.insert(uid);
    return okStatus();
  }
  Status removeWorkload(const std::string& uid) override {
    FUZZ_CHECK(!uid.empty() && expectFd == -1);
    calls++;
    live.erase(uid);
    return okStatus();
  }
  void snapshotComplete(const std::set<std::string>& uids) override {
    FUZZ_CHECK(expectFd == -1);
    calls++;
    FUZZ_CHECK(uids == live);
    snapshots++;
  }

  int expectFd = -1;  // the one fd the message carries, -1 for none or several
  size_t calls = 0, snapshots = 0;
  std::set<std::string> live;  // added or kept (accepted), not removed since
};

}  // namespace

int zdsRequestEntry(const uint8_t* data, size_t size) {
  FakeHandler handler;
  inpod::ZdsRequests requests(handler);
  size_t at = 0;
  while (at + 3 <= size) {
    const size_t nfds = (data[at] & 3) % 3;
    const size_t len = (size_t(data[at + 1]) << 8) | data[at + 2];
    at += 3;
    zds::Received msg;
    msg.bytes.assign(reinterpret_cast<const char*>(data + at), std::min(len, size - at));
    at += msg.bytes.size();
    std::vector<int> fds;
    for (size_t i = 0; i < nfds; ++i) {
      msg.fds.emplace_back(::eventfd(0, EFD_CLOEXEC));
      FUZZ_CHECK(msg.fds.back());
      fds.push_back(msg.fds.back().get());
    }
    handler.expectFd = nfds == 1 ? fds[0] : -1;
    const size_t callsBefore = handler.calls;
    const bool wasSynced = requests.synced();
    const Status st = requests.apply(msg);
    if (!st) FUZZ_CHECK(!st.error().message.empty());
    FUZZ_CHECK(handler.calls - callsBefore <= 1);
    FUZZ_CHECK(!wasSynced || requests.synced());
    // A request the handler never saw has no say in its fd: it must still be held.
    if (handler.calls == callsBefore)
      for (int fd : fds) FUZZ_CHECK(isOpen(fd));
    msg = zds::Received();  // what receiveMessage's caller does: the fds close with it
    for (int fd : fds) FUZZ_CHECK(!isOpen(fd));
  }
  return 0;
}

}  // namespace warren::fuzz
