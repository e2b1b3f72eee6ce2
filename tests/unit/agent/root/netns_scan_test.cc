// scanNetworkNamespaces against namespaces this test makes (root): found through
// their processes, named by a pin when there is one, with their addresses.
// Addresses live on each namespace's own loopback: nothing is routed or sent.

#include "agent/netns_scan.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace warren::agent {
namespace {

// A shell, run in a fresh network namespace (or in `netnsPath`), that sets up
// addresses, says "ready" and sleeps; killed and reaped on destruction.
class NamespacedProcess {
 public:
  NamespacedProcess(const std::string& setup, const std::string& netnsPath = "") {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = netnsPath.empty() ? -1 : ::open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
      if (netnsPath.empty() ? ::unshare(CLONE_NEWNET) != 0 : (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0)) _exit(126);
      ::dup2(out[1], 1);
      const std::string script = setup + " && echo ready && exec sleep 600";
      ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(out[1]);
    char buf[16] = {};
    ready_ = pid_ > 0 && ::read(out[0], buf, sizeof(buf) - 1) > 0 && std::string(buf).starts_with("ready");
    ::close(out[0]);
  }
  ~NamespacedProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  bool ready() const { return ready_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
};

const NetnsCandidate* carrying(const std::vector<NetnsCandidate>& all, const std::string& ip) {
  for (const auto& c : all)
    if (std::find(c.ips.begin(), c.ips.end(), ip) != c.ips.end()) return &c;
  return nullptr;
}

// `ip netns add`, with an address on its loopback; removed on destruction.
struct PinnedNetns {
  explicit PinnedNetns(const std::string& suffix, const std::string& ip)
      : name("wscan-" + std::to_string(::getpid()) + suffix), path("/var/run/netns/" + name) {
    ok = std::system(("ip netns add " + name + " && ip -n " + name + " link set lo up && ip -n " + name + " addr add " +
                      ip + "/32 dev lo")
                         .c_str()) == 0;
  }
  ~PinnedNetns() { (void)std::system(("ip netns del " + name + " 2>/dev/null").c_str()); }
  std::string name, path;
  bool ok = false;
};

TEST(ScanNetworkNamespaces, FindsEachProcessNamespaceWithItsAddressesAndPrefersAPin) {
  // Unpinned: only /proc/<pid>/ns/net reaches it.
  NamespacedProcess loose(
      "ip link set lo up && ip addr add 10.250.0.1/32 dev lo && ip addr add fd00:250::1/128 dev lo");
  ASSERT_TRUE(loose.ready());
  // Pinned, as runtimes pin a sandbox's: named by the pin.
  PinnedNetns pin("", "10.250.0.2");
  ASSERT_TRUE(pin.ok);
  NamespacedProcess pinned("true", pin.path);
  ASSERT_TRUE(pinned.ready());
  // Pinned with no process in it: not a running pod's, not found.
  PinnedNetns empty("-empty", "10.250.0.3");
  ASSERT_TRUE(empty.ok);

  auto all = scanNetworkNamespaces();
  ASSERT_TRUE(all) << all.error().message;

  const NetnsCandidate* a = carrying(*all, "10.250.0.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->path, "/proc/" + std::to_string(loose.pid()) + "/ns/net");
  EXPECT_NE(std::find(a->ips.begin(), a->ips.end(), "fd00:250::1"), a->ips.end());
  EXPECT_EQ(std::find(a->ips.begin(), a->ips.end(), "127.0.0.1"), a->ips.end());  // loopback's own is left out
  struct stat st {};
  ASSERT_EQ(::stat(a->path.c_str(), &st), 0);
  EXPECT_EQ(a->inode, st.st_ino);

  const NetnsCandidate* b = carrying(*all, "10.250.0.2");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->path, pin.path);

  EXPECT_FALSE(carrying(*all, "10.250.0.3"));
  // Never the agent's own namespace.
  ASSERT_EQ(::stat("/proc/self/ns/net", &st), 0);
  EXPECT_TRUE(std::none_of(all->begin(), all->end(), [&](const auto& c) { return c.inode == st.st_ino; }));
}

}  // namespace
}  // namespace warren::agent
