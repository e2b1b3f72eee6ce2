// As root: the real warrenctl binary against maps, programs and links this test
// creates and pins itself in a fresh directory under /sys/fs/bpf. Programs attach
// only to a child cgroup and to network namespaces the test made; everything is
// unpinned, detached and removed in TearDown, also when an assertion failed.

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/cgroup2.h"
#include "common/unique_fd.h"
#include "tools/warrenctl/decode.h"
#include "tools/warrenctl/progs.h"
#include "warren_abi.h"

namespace warren::ctl {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct ToolRun {
  int status = -1;
  std::string out, err;
};

std::string readBack(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  for (off_t off = 0; (n = ::pread(fd, buf, sizeof(buf), off)) > 0; off += n) s.append(buf, static_cast<size_t>(n));
  return s;
}

// Runs the built binary; stdout and stderr land in memfds, so no pipe can fill up.
// asUid != 0 drops to that uid (and gid) before exec.
ToolRun warrenctl(const std::vector<std::string>& args, uid_t asUid = 0) {
  std::vector<std::string> all = {WARRENCTL_BIN};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  UniqueFd out(::memfd_create("warrenctl-out", MFD_CLOEXEC)), err(::memfd_create("warrenctl-err", MFD_CLOEXEC));
  // Opened while still root and executed by fd: a checkout under a 0700 home
  // (/root) has directories the dropped uid may not search, though the binary
  // itself is executable by anyone.
  UniqueFd exe(::open(WARRENCTL_BIN, O_RDONLY | O_CLOEXEC));
  if (!out || !err || !exe) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::dup2(out.get(), 1) < 0 || ::dup2(err.get(), 2) < 0) ::_exit(126);
    if (asUid && (::setgroups(0, nullptr) != 0 || ::setresgid(asUid, asUid, asUid) != 0 ||
                  ::setresuid(asUid, asUid, asUid) != 0))
      ::_exit(126);
    ::fexecve(exe.get(), argv.data(), environ);
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return {};
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, readBack(out.get()), readBack(err.get())};
}

void expectOneLineError(const ToolRun& r, const std::string& prefix) {
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err.rfind(prefix, 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

std::vector<std::string> linesOf(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> w;
  std::istringstream in(line);
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

// Every column of every row starts where its header does.
void expectAligned(const std::vector<std::string>& lines) {
  const std::string& header = lines.at(0);
  for (size_t i = 1; i < header.size(); ++i) {
    if (header[i] == ' ' || header[i - 1] != ' ') continue;
    for (size_t r = 1; r < lines.size(); ++r) {
      ASSERT_GT(lines[r].size(), i) << lines[r];
      EXPECT_TRUE(lines[r][i] != ' ' && lines[r][i - 1] == ' ') << "column at " << i << " in\n" << lines[r];
    }
  }
}

json parse(const ToolRun& r) {
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  return json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

std::string cgroup2Root() {
  auto root = detectCgroup2Root();
  return root ? *root : "";
}

uint64_t inodeOf(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

// r0 = 1; exit: "allow" for connect4, SK_PASS for sk_lookup. Inert where attached.
const bpf_insn kAllow[] = {
    {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1},
    {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
};

class PinnedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
    dir_ = "/sys/fs/bpf/warrenctl-test-" + std::to_string(::getpid());
    std::error_code ec;
    fs::remove_all(dir_, ec);
    ASSERT_TRUE(fs::create_directories(dir_ + "/" WARREN_LINKS_DIR, ec)) << dir_ << ": " << ec.message();
  }

  void TearDown() override {
    fds_.clear();  // closes links, programs, maps and netns; a pinned object lives on until unpinned
    std::error_code ec;
    fs::remove_all(dir_, ec);  // unpinning the last reference detaches the links
    EXPECT_FALSE(ec) << ec.message();
    if (!cgroup_.empty()) {
      EXPECT_EQ(::rmdir(cgroup_.c_str()), 0) << cgroup_ << ": " << std::strerror(errno);
    }
  }

  int keep(int fd) {
    fds_.emplace_back(fd);
    return fd;
  }

  void pin(int fd, const std::string& relPath) {
    ASSERT_EQ(bpf_obj_pin(fd, (dir_ + "/" + relPath).c_str()), 0) << relPath << ": " << std::strerror(errno);
  }

  int makeMap(bpf_map_type type, const char* name, uint32_t keySize, uint32_t valueSize) {
    int fd = bpf_map_create(type, name, keySize, valueSize, 16, nullptr);
    EXPECT_GE(fd, 0) << name << ": " << std::strerror(errno);
    if (fd < 0) return -1;
    keep(fd);
    pin(fd, name);
    return fd;
  }

  // A fresh network namespace, made on a throwaway thread so the test's own thread
  // never leaves the root netns. Kept alive by the returned fd.
  int makeNetns() {
    int fd = -1, err = 0;
    std::thread([&] {
      if (::unshare(CLONE_NEWNET) != 0) {
        err = errno;
        return;
      }
      fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      if (fd < 0) err = errno;
    }).join();
    EXPECT_GE(fd, 0) << "netns: " << std::strerror(err);
    return fd < 0 ? -1 : keep(fd);
  }

  // An sk_lookup program carrying BTF, so its name can be longer than the kernel's
  // 15 characters and warrenctl has to fetch the full one.
  int loadSkLookup(const char* name) {
    btf* b = btf__new_empty();
    if (!b) return -1;
    int intType = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
    int proto = btf__add_func_proto(b, intType);
    int func = btf__add_func(b, name, BTF_FUNC_STATIC, proto);
    int loaded = btf__load_into_kernel(b);
    int btfFd = loaded == 0 ? ::dup(btf__fd(b)) : -1;
    btf__free(b);
    EXPECT_GE(btfFd, 0) << "BTF load: " << std::strerror(errno);
    if (btfFd < 0) return -1;
    keep(btfFd);
    bpf_func_info fi{0, static_cast<uint32_t>(func)};
    bpf_prog_load_opts o{};
    o.sz = sizeof(o);
    o.expected_attach_type = BPF_SK_LOOKUP;
    o.prog_btf_fd = static_cast<uint32_t>(btfFd);
    o.func_info = &fi;
    o.func_info_cnt = 1;
    o.func_info_rec_size = sizeof(fi);
    int fd = bpf_prog_load(BPF_PROG_TYPE_SK_LOOKUP, name, "GPL", kAllow, 2, &o);
    EXPECT_GE(fd, 0) << "sk_lookup load: " << std::strerror(errno);
    return fd < 0 ? -1 : keep(fd);
  }

  // Attaches `prog` to a new netns and pins the link as links/sk_lookup_<cookie>.
  // Returns the link id; *netnsIno gets the namespace's inode.
  uint32_t attachSkLookup(int prog, uint64_t cookie, uint64_t* netnsIno) {
    int ns = makeNetns();
    if (ns < 0) return 0;
    *netnsIno = inodeOf(ns);
    int link = bpf_link_create(prog, ns, BPF_SK_LOOKUP, nullptr);
    EXPECT_GE(link, 0) << "sk_lookup link: " << std::strerror(errno);
    if (link < 0) return 0;
    keep(link);
    pin(link, std::string(WARREN_LINKS_DIR "/" WARREN_SK_LOOKUP_LINK_PREFIX) + std::to_string(cookie));
    return linkId(link);
  }

  static uint32_t linkId(int link) {
    bpf_link_info info{};
    uint32_t len = sizeof(info);
    EXPECT_EQ(bpf_obj_get_info_by_fd(link, &info, &len), 0);
    return info.id;
  }

  std::string dir_, cgroup_;
  std::vector<UniqueFd> fds_;
};

// ---- pod list ---------------------------------------------------------------------------

warren_pod pod(const char* ip4, const char* ip6) {
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

warren_pod_meta meta(const char* uid, const char* name, const char* ns, const char* sa) {
  warren_pod_meta m{};
  std::strncpy(m.uid, uid, sizeof(m.uid) - 1);
  std::strncpy(m.name, name, sizeof(m.name) - 1);
  std::strncpy(m.namespace_, ns, sizeof(m.namespace_) - 1);
  std::strncpy(m.service_account, sa, sizeof(m.service_account) - 1);
  return m;
}

warren_ip_key ipKey(const char* ip) {
  warren_ip_key k{};
  if (inet_pton(AF_INET, ip, k.ip.addr) == 1) {
    k.family = WARREN_AF_INET;
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, ip, k.ip.addr), 1) << ip;
    k.family = WARREN_AF_INET6;
  }
  return k;
}

class PodListTest : public PinnedTest {
 protected:
  // A listening TCP socket on loopback, as the tunnel's in-pod inbound listener would be.
  int listenOn(int family, uint64_t* cookie) {
    int fd = keep(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
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
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
    EXPECT_EQ(::listen(fd, 1), 0);
    socklen_t clen = sizeof(*cookie);
    EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &clen), 0);
    return fd;
  }

  void registerListener(int inbound, const char* ip, int sock) {
    warren_ip_key k = ipKey(ip);
    uint64_t value = static_cast<uint64_t>(sock);
    ASSERT_EQ(bpf_map_update_elem(inbound, &k, &value, BPF_ANY), 0) << ip << ": " << std::strerror(errno);
  }
};

TEST_F(PodListTest, DecodesEveryValueTheMapsHold) {
  int enrolled = makeMap(BPF_MAP_TYPE_HASH, WARREN_MAP_ENROLLED, sizeof(__u64), sizeof(warren_pod));
  int podMeta = makeMap(BPF_MAP_TYPE_HASH, WARREN_MAP_POD_META, sizeof(__u64), sizeof(warren_pod_meta));
  int counters = makeMap(BPF_MAP_TYPE_PERCPU_HASH, WARREN_MAP_COUNTERS, sizeof(__u64), sizeof(warren_counters));
  int inbound = makeMap(BPF_MAP_TYPE_SOCKHASH, WARREN_MAP_INBOUND, sizeof(warren_ip_key), sizeof(__u64));
  ASSERT_FALSE(HasFailure());

  // checkout: dual stack, only its IPv4 listener registered, sk_lookup attached.
  // ledger: dual stack, both listeners, counters entry all zero, no sk_lookup link.
  // 1003: IPv6 only, no metadata, no counters entry, nothing registered.
  const uint64_t checkout = 1001, ledger = 1002, bare = 1003;
  const warren_pod pods[] = {pod("10.9.0.1", "fd00:9::1"), pod("10.9.0.2", "fd00:9::2"), pod(nullptr, "fd00:9::3")};
  const uint64_t cookies[] = {checkout, ledger, bare};
  for (int i = 0; i < 3; ++i) ASSERT_EQ(bpf_map_update_elem(enrolled, &cookies[i], &pods[i], BPF_NOEXIST), 0);
  warren_pod_meta m1 = meta("uid-checkout", "checkout", "payments", "sa-checkout");
  warren_pod_meta m2 = meta("uid-ledger", "ledger", "payments", "sa-ledger");
  ASSERT_EQ(bpf_map_update_elem(podMeta, &checkout, &m1, BPF_NOEXIST), 0);
  ASSERT_EQ(bpf_map_update_elem(podMeta, &ledger, &m2, BPF_NOEXIST), 0);

  const size_t ncpus = static_cast<size_t>(libbpf_num_possible_cpus());
  std::vector<warren_counters> perCpu(ncpus);
  uint64_t out = 0, in = 0, passed = 0, failed = 0, quota = 0, udp = 0;
  for (size_t cpu = 0; cpu < ncpus; ++cpu) {
    perCpu[cpu] = {cpu + 1, 10 * (cpu + 1), 100 + cpu, cpu + 1 == ncpus ? 7u : 0u, 2 * cpu, 1000 + cpu};
    out += perCpu[cpu].captured_out, in += perCpu[cpu].captured_in;
    passed += perCpu[cpu].passed, failed += perCpu[cpu].failed_closed;
    quota += perCpu[cpu].quota_refused, udp += perCpu[cpu].udp_sends;
  }
  ASSERT_EQ(bpf_map_update_elem(counters, &checkout, perCpu.data(), BPF_NOEXIST), 0);
  std::vector<warren_counters> zero(ncpus);
  ASSERT_EQ(bpf_map_update_elem(counters, &ledger, zero.data(), BPF_NOEXIST), 0);

  uint64_t c1 = 0, c2 = 0, c3 = 0;
  int s1 = listenOn(AF_INET, &c1), s2 = listenOn(AF_INET, &c2), s3 = listenOn(AF_INET6, &c3);
  registerListener(inbound, "10.9.0.1", s1);
  registerListener(inbound, "10.9.0.2", s2);
  registerListener(inbound, "fd00:9::2", s3);

  int skProg = loadSkLookup("wctl_sk_lookup");
  ASSERT_GE(skProg, 0);
  uint64_t ino = 0;
  uint32_t skLink = attachSkLookup(skProg, checkout, &ino);
  ASSERT_NE(skLink, 0u);
  ASSERT_FALSE(HasFailure());

  json got = parse(warrenctl({"--bpffs", dir_, "-j", "pod", "list"}));
  json want = json::array();
  want.push_back({{"netns_cookie", bare},
                  {"namespace", ""},
                  {"name", ""},
                  {"service_account", ""},
                  {"uid", ""},
                  {"ips", {"fd00:9::3"}},
                  {"counters", nullptr},
                  {"inbound_listener", "missing"},
                  {"listeners", {{{"ip", "fd00:9::3"}, {"state", "missing"}, {"socket_cookie", 0}}}},
                  {"sk_lookup_link", "missing"},
                  {"sk_lookup_link_id", 0}});
  want.push_back({{"netns_cookie", checkout},
                  {"namespace", "payments"},
                  {"name", "checkout"},
                  {"service_account", "sa-checkout"},
                  {"uid", "uid-checkout"},
                  {"ips", {"10.9.0.1", "fd00:9::1"}},
                  {"counters",
                   {{"captured_out", out},
                    {"captured_in", in},
                    {"passed", passed},
                    {"failed_closed", failed},
                    {"quota_refused", quota},
                    {"udp_sends", udp}}},
                  {"inbound_listener", "partial"},
                  {"listeners",
                   {{{"ip", "10.9.0.1"}, {"state", "up"}, {"socket_cookie", c1}},
                    {{"ip", "fd00:9::1"}, {"state", "missing"}, {"socket_cookie", 0}}}},
                  {"sk_lookup_link", "attached"},
                  {"sk_lookup_link_id", skLink}});
  want.push_back({{"netns_cookie", ledger},
                  {"namespace", "payments"},
                  {"name", "ledger"},
                  {"service_account", "sa-ledger"},
                  {"uid", "uid-ledger"},
                  {"ips", {"10.9.0.2", "fd00:9::2"}},
                  {"counters",
                   {{"captured_out", 0},
                    {"captured_in", 0},
                    {"passed", 0},
                    {"failed_closed", 0},
                    {"quota_refused", 0},
                    {"udp_sends", 0}}},
                  {"inbound_listener", "up"},
                  {"listeners",
                   {{{"ip", "10.9.0.2"}, {"state", "up"}, {"socket_cookie", c2}},
                    {{"ip", "fd00:9::2"}, {"state", "up"}, {"socket_cookie", c3}}}},
                  {"sk_lookup_link", "missing"},
                  {"sk_lookup_link_id", 0}});
  EXPECT_EQ(got, want) << "got:  " << got.dump() << "\nwant: " << want.dump();

  // Pretty JSON is the same document.
  EXPECT_EQ(parse(warrenctl({"--bpffs", dir_, "-p", "pod", "list"})), want);

  // The table: one aligned row per pod, in the same order.
  ToolRun human = warrenctl({"--bpffs", dir_, "pod", "list"});
  ASSERT_EQ(human.status, 0) << human.err;
  std::vector<std::string> lines = linesOf(human.out);
  ASSERT_EQ(lines.size(), 4u) << human.out;
  expectAligned(lines);
  EXPECT_EQ(words(lines[0]),
            (std::vector<std::string>{"NAMESPACE", "NAME", "IP", "COOKIE", "OUT", "IN", "PASSED", "FAILED_CLOSED",
                                      "QUOTA_REFUSED", "UDP_SENDS", "LISTENER", "SK_LOOKUP"}));
  EXPECT_EQ(words(lines[1]), (std::vector<std::string>{"?", "?", "fd00:9::3", "1003", "-", "-", "-", "-", "-", "-",
                                                       "missing", "missing"}));
  EXPECT_EQ(words(lines[2]),
            (std::vector<std::string>{"payments", "checkout", "10.9.0.1,fd00:9::1", "1001", std::to_string(out),
                                      std::to_string(in), std::to_string(passed), std::to_string(failed),
                                      std::to_string(quota), std::to_string(udp), "partial", "attached"}));
  EXPECT_EQ(words(lines[3]), (std::vector<std::string>{"payments", "ledger", "10.9.0.2,fd00:9::2", "1002", "0", "0",
                                                       "0", "0", "0", "0", "up", "missing"}));

  // Looking never changed anything: the entries are still all there.
  warren_pod check{};
  for (uint64_t c : cookies) EXPECT_EQ(bpf_map_lookup_elem(enrolled, &c, &check), 0);
}

TEST_F(PodListTest, OnlyTheEnrolledMapIsRequired) {
  int enrolled = makeMap(BPF_MAP_TYPE_HASH, WARREN_MAP_ENROLLED, sizeof(__u64), sizeof(warren_pod));
  const uint64_t cookie = 7;
  warren_pod p = pod("10.9.0.7", nullptr);
  ASSERT_EQ(bpf_map_update_elem(enrolled, &cookie, &p, BPF_NOEXIST), 0);
  json got = parse(warrenctl({"--bpffs", dir_, "-j", "pod", "list"}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["ips"], json({"10.9.0.7"}));
  EXPECT_TRUE(got[0]["counters"].is_null());
  EXPECT_EQ(got[0]["inbound_listener"], "unknown");  // no warren_inbound pinned: cannot tell
}

// ---- prog show --------------------------------------------------------------------------

TEST_F(PinnedTest, ProgShowFindsProgramsThroughTheirPinnedLinks) {
  const std::string root = cgroup2Root();
  ASSERT_FALSE(root.empty()) << "no cgroup2 mount";
  cgroup_ = root + "/warrenctl-test-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(cgroup_.c_str(), 0755), 0) << cgroup_ << ": " << std::strerror(errno);
  UniqueFd cg(::open(cgroup_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(cg);

  bpf_prog_load_opts o{};
  o.sz = sizeof(o);
  o.expected_attach_type = BPF_CGROUP_INET4_CONNECT;
  int connect4 = keep(bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "wctl_connect4", "GPL", kAllow, 2, &o));
  ASSERT_GE(connect4, 0) << std::strerror(errno);
  int cgLink = keep(bpf_link_create(connect4, cg.get(), BPF_CGROUP_INET4_CONNECT, nullptr));
  ASSERT_GE(cgLink, 0) << std::strerror(errno);
  pin(cgLink, WARREN_LINKS_DIR "/connect4");

  // One sk_lookup program behind two per-pod links: one entry with both.
  const char* longName = "warrenctl_test_sk_lookup";
  int skProg = loadSkLookup(longName);
  ASSERT_GE(skProg, 0);
  uint64_t ino1 = 0, ino2 = 0;
  uint32_t sk1 = attachSkLookup(skProg, 11, &ino1), sk2 = attachSkLookup(skProg, 12, &ino2);
  ASSERT_FALSE(HasFailure());

  // Things under links/ that are not links are skipped, not fatal.
  int stray = keep(bpf_map_create(BPF_MAP_TYPE_ARRAY, "stray", 4, 4, 1, nullptr));
  pin(stray, WARREN_LINKS_DIR "/stray_map");
  ASSERT_EQ(::mkdir((dir_ + "/" WARREN_LINKS_DIR "/subdir").c_str(), 0700), 0);

  bpf_prog_info c4{}, sk{};
  uint32_t len = sizeof(c4);
  ASSERT_EQ(bpf_obj_get_info_by_fd(connect4, &c4, &len), 0);
  len = sizeof(sk);
  ASSERT_EQ(bpf_obj_get_info_by_fd(skProg, &sk, &len), 0);
  struct stat cgStat {};
  ASSERT_EQ(::stat(cgroup_.c_str(), &cgStat), 0);  // on cgroup2 the inode number is the cgroup id

  json got = parse(warrenctl({"--bpffs", dir_, "-j", "prog", "show"}));
  ASSERT_TRUE(got.is_array()) << got.dump();
  ASSERT_EQ(got.size(), 2u) << got.dump();
  ASSERT_LT(c4.id, sk.id);  // loaded first; warrenctl orders by id
  const json& a = got[0];
  const json& b = got[1];
  const int64_t now = std::time(nullptr);

  EXPECT_EQ(a["id"], c4.id);
  EXPECT_EQ(a["type"], "cgroup_sock_addr");
  EXPECT_EQ(a["name"], "wctl_connect4");
  EXPECT_EQ(a["tag"], tagHex(c4.tag, sizeof(c4.tag)));
  EXPECT_EQ(a["gpl_compatible"], true);
  EXPECT_EQ(a["uid"], 0);
  EXPECT_NEAR(a["loaded_at"].get<int64_t>(), now, 60);
  EXPECT_EQ(a["bytes_xlated"], c4.xlated_prog_len);
  EXPECT_EQ(a["bytes_jited"], c4.jited_prog_len);
  EXPECT_EQ(a["map_ids"], json::array());
  EXPECT_TRUE(a["run_cnt"].is_number_unsigned());
  EXPECT_TRUE(a["run_time_ns"].is_number_unsigned());
  EXPECT_EQ(a["links"], json::array({{{"pin", "connect4"},
                                      {"id", linkId(cgLink)},
                                      {"type", "cgroup"},
                                      {"attach_type", "cgroup_inet4_connect"},
                                      {"target_type", "cgroup"},
                                      {"target_id", cgStat.st_ino},
                                      {"attached", true}}}));

  EXPECT_EQ(b["id"], sk.id);
  EXPECT_EQ(b["type"], "sk_lookup");
  EXPECT_EQ(b["name"], longName);  // not the kernel's "warrenctl_test_"
  EXPECT_EQ(b["tag"], tagHex(sk.tag, sizeof(sk.tag)));
  EXPECT_EQ(b["links"], json::array({{{"pin", "sk_lookup_11"},
                                      {"id", sk1},
                                      {"type", "netns"},
                                      {"attach_type", "sk_lookup"},
                                      {"target_type", "netns"},
                                      {"target_id", ino1},
                                      {"attached", true}},
                                     {{"pin", "sk_lookup_12"},
                                      {"id", sk2},
                                      {"type", "netns"},
                                      {"attach_type", "sk_lookup"},
                                      {"target_type", "netns"},
                                      {"target_id", ino2},
                                      {"attached", true}}}));

  ToolRun human = warrenctl({"--bpffs", dir_, "prog", "show"});
  ASSERT_EQ(human.status, 0) << human.err;
  std::vector<std::string> lines = linesOf(human.out);
  ASSERT_EQ(lines.size(), 3u) << human.out;
  expectAligned(lines);
  EXPECT_EQ(words(lines[0]), (std::vector<std::string>{"ID", "TYPE", "NAME", "TAG", "ATTACH", "LINK", "TARGET",
                                                       "RUN_CNT", "RUN_TIME_NS", "LOADED_AT"}));
  std::vector<std::string> c4Row = words(lines[1]), skRow = words(lines[2]);
  ASSERT_EQ(c4Row.size(), 11u) << lines[1];  // TARGET is two words: "cgroup ID"
  ASSERT_EQ(skRow.size(), 11u) << lines[2];
  EXPECT_EQ(std::vector<std::string>(c4Row.begin(), c4Row.begin() + 8),
            (std::vector<std::string>{std::to_string(c4.id), "cgroup_sock_addr", "wctl_connect4",
                                      tagHex(c4.tag, sizeof(c4.tag)), "cgroup_inet4_connect",
                                      std::to_string(linkId(cgLink)), "cgroup", std::to_string(cgStat.st_ino)}));
  EXPECT_EQ(std::vector<std::string>(skRow.begin(), skRow.begin() + 8),
            (std::vector<std::string>{std::to_string(sk.id), "sk_lookup", longName, tagHex(sk.tag, sizeof(sk.tag)),
                                      "sk_lookup", std::to_string(sk1) + "," + std::to_string(sk2), "netns",
                                      std::to_string(ino1) + "," + std::to_string(ino2)}));
  EXPECT_EQ(c4Row[10], formatUnixTime(a["loaded_at"].get<uint64_t>()));
}

TEST_F(PinnedTest, ProgShowWithNoLinksIsAnEmptyList) {
  EXPECT_EQ(parse(warrenctl({"--bpffs", dir_, "-j", "prog", "show"})), json::array());
  ASSERT_EQ(::rmdir((dir_ + "/" WARREN_LINKS_DIR).c_str()), 0);
  // Neither maps nor links: not a Warren pin root at all.
  expectOneLineError(warrenctl({"--bpffs", dir_, "prog", "show"}), "Error: no Warren objects pinned at " + dir_);
  // Maps pinned, nothing attached yet (the agent's order at startup).
  makeMap(BPF_MAP_TYPE_HASH, WARREN_MAP_ENROLLED, sizeof(__u64), sizeof(warren_pod));
  EXPECT_EQ(parse(warrenctl({"--bpffs", dir_, "-j", "prog", "show"})), json::array());
}

// ---- errors -----------------------------------------------------------------------------

TEST_F(PinnedTest, MissingPinDirectoryIsAOneLineError) {
  for (const char* object : {"pod", "prog"}) {
    ToolRun r = warrenctl({"--bpffs", dir_ + "/nope", object});
    expectOneLineError(r, "Error: no Warren objects pinned at " + dir_ + "/nope (is warren-agent running?");
  }
}

TEST_F(PinnedTest, PinRootWithoutMapsIsAOneLineError) {
  expectOneLineError(warrenctl({"--bpffs", dir_, "-j", "pod", "list"}), "Error: no Warren objects pinned at " + dir_);
}

TEST_F(PinnedTest, DirectoryOutsideBpffsIsNamedAsSuch) {
  ToolRun r = warrenctl({"--bpffs", "/proc", "pod", "list"});
  expectOneLineError(r, "Error: /proc is not on a BPF filesystem");
}

TEST_F(PinnedTest, MapOfAnotherAbiIsRefusedBeforeAnyLookup) {
  int enrolled = makeMap(BPF_MAP_TYPE_HASH, WARREN_MAP_ENROLLED, sizeof(__u64), sizeof(warren_pod) + 8);
  std::vector<uint8_t> big(sizeof(warren_pod) + 8, 0xff);
  const uint64_t cookie = 1;
  ASSERT_EQ(bpf_map_update_elem(enrolled, &cookie, big.data(), BPF_NOEXIST), 0);
  ToolRun r = warrenctl({"--bpffs", dir_, "pod", "list"});
  expectOneLineError(r, "Error: " + dir_ + "/warren_enrolled: warren_enrolled is hash with key/value size 8/");
  EXPECT_NE(r.err.find("different versions"), std::string::npos) << r.err;
}

TEST_F(PinnedTest, UnprivilegedUserIsToldItIsAPermissionProblem) {
  makeMap(BPF_MAP_TYPE_HASH, WARREN_MAP_ENROLLED, sizeof(__u64), sizeof(warren_pod));
  for (const char* object : {"pod", "prog"}) {
    ToolRun r = warrenctl({"--bpffs", dir_, object}, /*asUid=*/65534);
    expectOneLineError(r, "Error: permission denied: ");
    EXPECT_NE(r.err.find("needs root"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace warren::ctl
