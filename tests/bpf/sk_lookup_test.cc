// The sk_lookup program, run by the kernel through BPF_PROG_TEST_RUN against the
// real object (cilium bpf/tests style): seed maps, run a lookup, check the verdict
// and which socket the kernel would have handed the connection to.
//
//   client 10.9.9.9 ──SYN──▶ 10.1.2.3:8080 (enrolled pod)
//                              │ sk_lookup
//                              └─▶ tunnel inbound listener (warren_inbound[10.1.2.3])
//   client ──SYN──▶ 10.1.2.3:15008 ─▶ tunnel HBONE listener (warren_hbone[10.1.2.3]) only

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/abi_addr.h"
#include "common/unique_fd.h"
#include "warren_capture.skel.h"

namespace {

constexpr uint64_t kPodCookie = 4242;
constexpr int kSkPass = 1;
constexpr int kSkDrop = 0;

uint64_t socketCookie(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
  return cookie;
}

warren::UniqueFd listenOn(int family) {
  warren::UniqueFd fd(::socket(family, SOCK_STREAM, 0));
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(*in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    len = sizeof(*in6);
  }
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
  EXPECT_EQ(::listen(fd.get(), 8), 0);
  return fd;
}

class SkLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pinRoot_ = "/sys/fs/bpf/warren-bpftest-" + std::to_string(::getpid());
    std::filesystem::create_directories(pinRoot_);
    LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pinRoot_.c_str());
    skel_ = warren_capture__open_opts(&opts);
    ASSERT_NE(skel_, nullptr);
    ASSERT_EQ(warren_capture__load(skel_), 0) << "the verifier rejected the programs";

    listener4_ = listenOn(AF_INET);
    listener6_ = listenOn(AF_INET6);
    hbone4_ = listenOn(AF_INET);
    enroll("10.1.2.3");
    enroll("10.1.2.4");  // enrolled, but its listener is never registered
    enroll("fd00::3");
    registerListener("10.1.2.3", listener4_.get());
    registerListener("fd00::3", listener6_.get());
    registerListener("10.1.2.3", hbone4_.get(), skel_->maps.warren_hbone);  // 10.1.2.4 has none

    int ncpus = libbpf_num_possible_cpus();
    std::vector<warren_counters> zero(ncpus);
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.warren_counters, &kPodCookie, sizeof(kPodCookie), zero.data(),
                                   zero.size() * sizeof(warren_counters), BPF_ANY),
              0);
  }

  void TearDown() override {
    if (skel_) warren_capture__destroy(skel_);
    std::filesystem::remove_all(pinRoot_);
  }

  void enroll(const std::string& ip) {
    auto key = warren::ipKeyFromString(ip);
    ASSERT_TRUE(key.ok());
    ASSERT_EQ(
        bpf_map__update_elem(skel_->maps.warren_pod_ips, &*key, sizeof(*key), &kPodCookie, sizeof(kPodCookie), BPF_ANY),
        0);
  }

  void registerListener(const std::string& ip, int fd, bpf_map* map = nullptr) {
    auto key = warren::ipKeyFromString(ip);
    ASSERT_TRUE(key.ok());
    uint64_t value = static_cast<uint64_t>(fd);
    ASSERT_EQ(bpf_map__update_elem(map ? map : skel_->maps.warren_inbound, &*key, sizeof(*key), &value, sizeof(value),
                                   BPF_ANY),
              0)
        << std::strerror(errno);
  }

  warren_counters counters() {
    int ncpus = libbpf_num_possible_cpus();
    std::vector<warren_counters> per(ncpus);
    warren_counters sum{};
    EXPECT_EQ(bpf_map__lookup_elem(skel_->maps.warren_counters, &kPodCookie, sizeof(kPodCookie), per.data(),
                                   per.size() * sizeof(warren_counters), 0),
              0);
    for (const auto& c : per) {
      sum.captured_in += c.captured_in;
      sum.failed_closed += c.failed_closed;
    }
    return sum;
  }

  struct Outcome {
    int verdict;
    uint64_t selectedCookie;  // 0: the kernel's normal lookup decides
  };

  Outcome run(int family, int protocol, const std::string& remote, uint16_t remotePort, const std::string& local,
              uint16_t localPort) {
    return runRaw(family, protocol, remote, remotePort, local, localPort);
  }
  Outcome runRaw(int family, int protocol, const std::string& remote, uint16_t remotePort, const std::string& local,
                 uint16_t localPort) {
    bpf_sk_lookup ctx{};
    ctx.family = family;
    ctx.protocol = protocol;
    if (family == AF_INET) {
      inet_pton(AF_INET, remote.c_str(), &ctx.remote_ip4);
      inet_pton(AF_INET, local.c_str(), &ctx.local_ip4);
    } else {
      inet_pton(AF_INET6, remote.c_str(), ctx.remote_ip6);
      inet_pton(AF_INET6, local.c_str(), ctx.local_ip6);
    }
    ctx.remote_port = htons(remotePort);
    ctx.local_port = localPort;
    bpf_sk_lookup out{};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctx, .ctx_out = &out, .ctx_size_in = sizeof(ctx),
                .ctx_size_out = sizeof(out));
    int rc = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.warren_sk_lookup), &opts);
    EXPECT_EQ(rc, 0) << std::strerror(errno);
    return {static_cast<int>(opts.retval), out.cookie};
  }

  std::string pinRoot_;
  warren_capture* skel_ = nullptr;
  warren::UniqueFd listener4_, listener6_, hbone4_;
};

struct Case {
  const char* description;
  int family;
  int protocol;
  const char* remote;
  const char* local;
  uint16_t localPort;
  int verdict;
  enum { kNone, kListener4, kListener6, kHbone4 } selected;
};

TEST_F(SkLookupTest, DecisionTable) {
  const Case cases[] = {
      {"plaintext to an enrolled pod goes to the tunnel", AF_INET, IPPROTO_TCP, "10.9.9.9", "10.1.2.3", 8080, kSkPass,
       Case::kListener4},
      {"HBONE port goes to the tunnel's own 15008 and nothing else there", AF_INET, IPPROTO_TCP, "10.9.9.9", "10.1.2.3",
       15008, kSkPass, Case::kHbone4},
      {"HBONE port without the tunnel's HBONE listener fails closed", AF_INET, IPPROTO_TCP, "10.9.9.9", "10.1.2.4",
       15008, kSkDrop, Case::kNone},
      {"HBONE port of an address that is no enrolled pod's is left alone", AF_INET, IPPROTO_TCP, "10.9.9.9",
       "10.1.2.99", 15008, kSkPass, Case::kNone},
      {"an address that is no enrolled pod's is left alone", AF_INET, IPPROTO_TCP, "10.9.9.9", "10.1.2.99", 8080,
       kSkPass, Case::kNone},
      {"the pod dialing itself passes", AF_INET, IPPROTO_TCP, "10.1.2.3", "10.1.2.3", 8080, kSkPass, Case::kNone},
      {"UDP is not captured", AF_INET, IPPROTO_UDP, "10.9.9.9", "10.1.2.3", 53, kSkPass, Case::kNone},
      {"loopback is not captured", AF_INET, IPPROTO_TCP, "127.0.0.1", "127.0.0.1", 8080, kSkPass, Case::kNone},
      {"enrolled pod without a tunnel listener fails closed", AF_INET, IPPROTO_TCP, "10.9.9.9", "10.1.2.4", 8080,
       kSkDrop, Case::kNone},
      {"IPv6 plaintext to an enrolled pod goes to the tunnel", AF_INET6, IPPROTO_TCP, "fd00::9", "fd00::3", 443,
       kSkPass, Case::kListener6},
      {"IPv6 loopback is not captured", AF_INET6, IPPROTO_TCP, "::1", "::1", 443, kSkPass, Case::kNone},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    Outcome o = run(c.family, c.protocol, c.remote, 40000, c.local, c.localPort);
    EXPECT_EQ(o.verdict, c.verdict);
    uint64_t want = c.selected == Case::kListener4   ? socketCookie(listener4_.get())
                    : c.selected == Case::kListener6 ? socketCookie(listener6_.get())
                    : c.selected == Case::kHbone4    ? socketCookie(hbone4_.get())
                                                     : 0;
    EXPECT_EQ(o.selectedCookie, want);
  }
  warren_counters c = counters();
  EXPECT_EQ(c.captured_in, 2u) << "HBONE is not a plaintext capture";
  EXPECT_EQ(c.failed_closed, 2u);
}

TEST_F(SkLookupTest, ConnectListenerProbeWithoutRemoteEndIsNotSteered) {
  // connect4 asks "is 10.1.2.3:15001 listening?" with bpf_sk_lookup_tcp, which runs
  // this program with no remote end. It must reach the real 15001 lookup.
  Outcome o = runRaw(AF_INET, IPPROTO_TCP, "0.0.0.0", 0, "10.1.2.3", 15001);
  EXPECT_EQ(o.verdict, kSkPass);
  EXPECT_EQ(o.selectedCookie, 0u);
  Outcome gone = runRaw(AF_INET, IPPROTO_TCP, "0.0.0.0", 0, "10.1.2.4", 15001);
  EXPECT_EQ(gone.verdict, kSkPass) << "the probe must not be dropped or counted";
  warren_counters c = counters();
  EXPECT_EQ(c.captured_in, 0u);
  EXPECT_EQ(c.failed_closed, 0u);
}

TEST_F(SkLookupTest, ClosedListenerFailsClosed) {
  Outcome before = run(AF_INET, IPPROTO_TCP, "10.9.9.9", 40000, "10.1.2.3", 8080);
  ASSERT_EQ(before.verdict, kSkPass);
  ASSERT_EQ(before.selectedCookie, socketCookie(listener4_.get()));

  // The tunnel dies: the kernel drops its listener from the sockhash.
  listener4_.reset();
  Outcome after = run(AF_INET, IPPROTO_TCP, "10.9.9.9", 40000, "10.1.2.3", 8080);
  EXPECT_EQ(after.verdict, kSkDrop);
  EXPECT_EQ(after.selectedCookie, 0u);
  EXPECT_EQ(counters().failed_closed, 1u);
}

}  // namespace
