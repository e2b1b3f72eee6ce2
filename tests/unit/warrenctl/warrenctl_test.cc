// warrenctl: pure decoding and formatting, the generated docs, and (as root) the
// real binary against maps and a link this test creates and pins itself.

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/abi_addr.h"
#include "common/unique_fd.h"
#include "tools/warrenctl/commands.h"
#include "tools/warrenctl/decode.h"

namespace warren::ctl {
namespace {
namespace fs = std::filesystem;

warren_pod podWithIps(const char* ip4, const char* ip6) {
  warren_pod p{};
  if (ip4) {
    p.flags |= WARREN_POD_HAS_IP4;
    inet_pton(AF_INET, ip4, &p.ip4);
  }
  if (ip6) {
    p.flags |= WARREN_POD_HAS_IP6;
    inet_pton(AF_INET6, ip6, p.ip6.addr);
  }
  return p;
}

void setField(char (&dst)[WARREN_META_LEN], const char* s) { std::strncpy(dst, s, sizeof(dst) - 1); }

TEST(Decode, PodIpsCountersAndMetadata) {
  warren_pod_meta meta{};
  setField(meta.name, "checkout");
  setField(meta.namespace_, "payments");
  setField(meta.service_account, "checkout-sa");
  setField(meta.uid, "u-1");
  std::vector<warren_counters> perCpu(3);
  perCpu[0].captured_out = 2;
  perCpu[2].captured_out = 5;
  perCpu[1].failed_closed = 1;
  PodView v = decodePod(77, podWithIps("10.1.0.5", "fd00::5"), &meta, perCpu);
  EXPECT_EQ(v.ips, (std::vector<std::string>{"10.1.0.5", "fd00::5"}));
  EXPECT_EQ(v.counters.captured_out, 7u);
  EXPECT_EQ(v.counters.failed_closed, 1u);
  EXPECT_EQ(v.name, "checkout");
  EXPECT_EQ(v.ns, "payments");
  auto j = podJson(v);
  EXPECT_EQ(j["netns_cookie"], 77);
  EXPECT_EQ(j["service_account"], "checkout-sa");
  EXPECT_EQ(j["counters"]["captured_out"], 7);
  EXPECT_EQ(j["inbound_listener"], "unknown");
}

TEST(Decode, UnterminatedMetadataFieldStaysInBounds) {
  char field[4] = {'a', 'b', 'c', 'd'};
  EXPECT_EQ(fieldString(field, sizeof(field)), "abcd");
}

TEST(Decode, PodWithoutMetadataShowsPlaceholders) {
  PodView v = decodePod(5, podWithIps(nullptr, nullptr), nullptr, {});
  auto row = podRow(v);
  EXPECT_EQ(row[0], "?");
  EXPECT_EQ(row[2], "-");
}

TEST(Table, AlignsColumnsWithoutTrailingSpaces) {
  Table t{{"A", "LONGER"}, {{"xxxx", "1"}, {"y", "22"}}};
  EXPECT_EQ(t.render(), "A     LONGER\nxxxx  1\ny     22\n");
}

TEST(Cli, HelpCoversEveryCommandAndDocsAreGeneratedFromTheSameTable) {
  std::string docs = markdownDocs();
  std::string help = globalHelp();
  for (const auto& c : commands()) {
    EXPECT_NE(help.find(c.synopsis), std::string::npos) << c.synopsis;
    EXPECT_NE(docs.find(c.synopsis), std::string::npos) << c.synopsis;
    EXPECT_NE(objectHelp(c.object).find(c.help), std::string::npos);
  }
  // The committed docs/warrenctl.md must be what gen-docs prints today.
  std::ifstream in(WARREN_SOURCE_DIR "/docs/warrenctl.md");
  std::stringstream committed;
  committed << in.rdbuf();
  EXPECT_EQ(committed.str(), docs) << "regenerate: warrenctl gen-docs > docs/warrenctl.md";
}

TEST(Cli, ErrorsAreOneLineAndExitOne) {
  for (std::vector<std::string> argv : {std::vector<std::string>{"warrenctl", "nope", "list"},
                                        {"warrenctl", "pod", "frobnicate"},
                                        {"warrenctl", "--bogus"},
                                        {"warrenctl", "--bpffs", "/nonexistent/warren", "pod", "list"}}) {
    std::ostringstream out, err;
    EXPECT_EQ(runCli(argv, out, err), 1);
    std::string e = err.str();
    EXPECT_EQ(e.rfind("Error: ", 0), 0u) << e;
    EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;
  }
  std::ostringstream out, err;
  EXPECT_EQ(runCli({"warrenctl", "--bpffs", "/nonexistent/warren", "pod", "list"}, out, err), 1);
  EXPECT_NE(err.str().find("is warren-agent running"), std::string::npos);
}

// ---- as root, against real pinned objects --------------------------------------------

int runBinary(const std::vector<std::string>& args, std::string* out) {
  std::string cmd = WARRENCTL_BIN;
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  out->clear();
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class PinnedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/sys/fs/bpf/warrenctl-test-" + std::to_string(::getpid());
    cgroup_ = "/sys/fs/cgroup/unified/warrenctl-test-" + std::to_string(::getpid());
    fs::create_directories(dir_ + "/links");
  }
  void TearDown() override {
    fs::remove_all(dir_);  // unpinning the link detaches it
    ::rmdir(cgroup_.c_str());
  }
  UniqueFd makeMap(bpf_map_type type, const char* name, uint32_t keySize, uint32_t valueSize) {
    UniqueFd fd(bpf_map_create(type, name, keySize, valueSize, 16, nullptr));
    EXPECT_TRUE(fd) << name << ": " << std::strerror(errno);
    EXPECT_EQ(bpf_obj_pin(fd.get(), (dir_ + "/" + name).c_str()), 0) << name;
    return fd;
  }
  std::string dir_, cgroup_;
};

TEST_F(PinnedTest, PodListDecodesWhatIsInTheMaps) {
  UniqueFd enrolled = makeMap(BPF_MAP_TYPE_HASH, WARREN_MAP_ENROLLED, 8, sizeof(warren_pod));
  UniqueFd meta = makeMap(BPF_MAP_TYPE_HASH, WARREN_MAP_POD_META, 8, sizeof(warren_pod_meta));
  UniqueFd counters = makeMap(BPF_MAP_TYPE_PERCPU_HASH, WARREN_MAP_COUNTERS, 8, sizeof(warren_counters));
  UniqueFd inbound = makeMap(BPF_MAP_TYPE_SOCKHASH, WARREN_MAP_INBOUND, sizeof(warren_ip_key), 8);

  const uint64_t withListener = 1001, without = 1002;
  warren_pod a = podWithIps("10.9.0.1", nullptr), b = podWithIps("10.9.0.2", nullptr);
  ASSERT_EQ(bpf_map_update_elem(enrolled.get(), &withListener, &a, BPF_ANY), 0);
  ASSERT_EQ(bpf_map_update_elem(enrolled.get(), &without, &b, BPF_ANY), 0);
  warren_pod_meta m{};
  setField(m.name, "checkout");
  setField(m.namespace_, "payments");
  setField(m.service_account, "sa-checkout");
  setField(m.uid, "uid-1");
  ASSERT_EQ(bpf_map_update_elem(meta.get(), &withListener, &m, BPF_ANY), 0);
  std::vector<warren_counters> perCpu(libbpf_num_possible_cpus());
  perCpu[0].captured_out = 3;
  perCpu.back().captured_in += 4;
  ASSERT_EQ(bpf_map_update_elem(counters.get(), &withListener, perCpu.data(), BPF_ANY), 0);

  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  auto key = ipKeyFromString("10.9.0.1");
  uint64_t fdValue = static_cast<uint64_t>(listener.get());
  ASSERT_EQ(bpf_map_update_elem(inbound.get(), &*key, &fdValue, BPF_ANY), 0) << std::strerror(errno);

  std::string out;
  ASSERT_EQ(runBinary({"--bpffs", dir_, "-j", "pod", "list"}, &out), 0) << out;
  auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j.size(), 2u);
  const auto& pa = j[0]["netns_cookie"] == withListener ? j[0] : j[1];
  const auto& pb = j[0]["netns_cookie"] == withListener ? j[1] : j[0];
  EXPECT_EQ(pa["name"], "checkout");
  EXPECT_EQ(pa["namespace"], "payments");
  EXPECT_EQ(pa["service_account"], "sa-checkout");
  EXPECT_EQ(pa["uid"], "uid-1");
  EXPECT_EQ(pa["ips"], nlohmann::json::array({"10.9.0.1"}));
  EXPECT_EQ(pa["counters"]["captured_out"], 3);
  EXPECT_EQ(pa["counters"]["captured_in"], 4);
  EXPECT_EQ(pa["inbound_listener"], "up");
  EXPECT_EQ(pb["inbound_listener"], "missing");
  EXPECT_EQ(pb["counters"]["captured_out"], 0);

  ASSERT_EQ(runBinary({"--bpffs", dir_, "pod", "list"}, &out), 0);
  EXPECT_NE(out.find("checkout"), std::string::npos);
  EXPECT_NE(out.find("10.9.0.2"), std::string::npos);
}

TEST_F(PinnedTest, ProgShowListsAPinnedLink) {
  // A trivial connect4 program (r0 = 1; exit) attached to a child cgroup this test
  // made: never to the root cgroup.
  ASSERT_EQ(::mkdir(cgroup_.c_str(), 0755), 0) << std::strerror(errno);
  bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_CGROUP_INET4_CONNECT);
  UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "wctl_test", "GPL", insns, 2, &opts));
  ASSERT_TRUE(prog) << std::strerror(errno);
  UniqueFd cg(::open(cgroup_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueFd link(bpf_link_create(prog.get(), cg.get(), BPF_CGROUP_INET4_CONNECT, nullptr));
  ASSERT_TRUE(link) << std::strerror(errno);
  ASSERT_EQ(bpf_obj_pin(link.get(), (dir_ + "/links/connect4").c_str()), 0);
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  ASSERT_EQ(bpf_obj_get_info_by_fd(prog.get(), &info, &len), 0);

  std::string out;
  ASSERT_EQ(runBinary({"--bpffs", dir_, "-p", "prog", "show"}, &out), 0) << out;
  auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["link"], "connect4");
  EXPECT_EQ(j[0]["prog_id"], info.id);
  EXPECT_EQ(j[0]["name"], "wctl_test");
  EXPECT_EQ(j[0]["prog_type"], "cgroup_sock_addr");
  EXPECT_EQ(j[0]["attach_type"], "cgroup_inet4_connect");
  EXPECT_EQ(j[0]["target"].get<std::string>().rfind("cgroup ", 0), 0u);
}

TEST_F(PinnedTest, MissingPinRootIsAOneLineError) {
  std::string out;
  EXPECT_EQ(runBinary({"--bpffs", dir_ + "/nope", "pod", "list"}, &out), 1);
  EXPECT_EQ(out.rfind("Error: no Warren objects pinned at ", 0), 0u) << out;
}

}  // namespace
}  // namespace warren::ctl
