// The node image, run as the DaemonSet runs it: scripts/build-image.sh builds it
// from this build tree into a container storage of the test's own; podman runs
// its agent and tunnel as two privileged containers with the host's bpffs and
// cgroup2 mounted and one shared /run/warren, in a network namespace this test
// made (what hostNetwork is to a pod). The agent and the tunnel read the cluster with --kube
// from a Kubernetes API server (tests/support) listening inside that netns, with
// a service account mounted where a pod has it. The test waits on the agent's
// /healthz/ready (15022) and the tunnel's /healthz/ready (15021), checks the
// capture programs are attached at the host's cgroup2 root through the links
// the agent pinned, stops the agent as the kubelet does (SIGTERM) and checks:
// with its DaemonSet still in the API (a restart) capture stays; with the
// DaemonSet gone (an uninstall) every link is gone and nothing of it stays
// attached. Everything (containers, image store, netns, pins) is removed even
// when an assertion fails.
//
//   netns wsmoke-<pid>
//   ┌─────────────────────────────────────────────────────────────┐
//   │ 127.0.0.1:<port> API server (this process)                  │
//   │ container agent  --kube --health-address 127.0.0.1:15022    │
//   │ container tunnel --kube --readiness-address 127.0.0.1:15021 │
//   └─────────────────────────────────────────────────────────────┘
//   host: /sys/fs/bpf/wsmoke-<pid>/ (pins), cgroup2 root (attachments)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/cgroup2.h"
#include "common/netns.h"
#include "identity/local_ca.h"
#include "tests/support/cluster.h"
#include "tests/support/kube_api_server.h"
#include "tests/support/test_certs.h"

namespace warren {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using e2e::runCommand;

const std::string kSourceDir = WARREN_SOURCE_DIR;
const std::string kBuildDir = WARREN_BUILD_DIR;
const std::string kDaemonSet = "warren-system/warren-node";

std::string run(const std::vector<std::string>& argv, int* status = nullptr) {
  std::string out;
  int st = runCommand(argv, &out);
  if (status) *status = st;
  return out;
}

// GET http://127.0.0.1:<port><path> inside the netns: the status, or 0.
int httpStatus(int netnsFd, uint16_t port, const std::string& path, std::string* body = nullptr) {
  auto fd = socketInNetns(netnsFd, AF_INET, SOCK_STREAM);
  if (!fd) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd->get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return 0;
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd->get(), req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) return 0;
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd->get(), buf, sizeof buf, 0)) > 0;) answer.append(buf, size_t(n));
  if (answer.size() < 12 || !answer.starts_with("HTTP/1.1 ")) return 0;
  if (body) *body = answer.substr(answer.find("\r\n\r\n") + 4);
  return std::atoi(answer.c_str() + 9);
}

// Polls a readiness endpoint until it answers 200 (the component's own signal).
bool waitReady(int netnsFd, uint16_t port, std::chrono::seconds timeout, std::string* last) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (httpStatus(netnsFd, port, "/healthz/ready", last) == 200) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

struct PinnedLink {
  uint32_t id = 0, progId = 0;
  std::string pin;
};

// Every link pinned under dir, by bpftool (maps and programs there fail to open as links).
std::vector<PinnedLink> pinnedLinks(const std::string& dir) {
  std::vector<PinnedLink> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    int st = 0;
    auto text = run({"bpftool", "-j", "link", "show", "pinned", it->path().string()}, &st);
    if (st != 0) continue;
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_object() && j.contains("id")) out.push_back({j["id"], j.value("prog_id", 0u), it->path().string()});
  }
  return out;
}

bool linkExists(uint32_t id) {
  int st = 0;
  run({"bpftool", "link", "show", "id", std::to_string(id)}, &st);
  return st == 0;
}

// Program ids attached at a cgroup (bpftool cgroup show).
std::set<uint32_t> cgroupProgs(const std::string& cgroup) {
  std::set<uint32_t> ids;
  auto j = nlohmann::json::parse(run({"bpftool", "-j", "cgroup", "show", cgroup}), nullptr, false);
  if (j.is_array())
    for (const auto& p : j) ids.insert(p.value("id", 0u));
  return ids;
}

class ImageSmokeTest : public ::testing::Test {
 protected:
  const std::string name_ = "wsmoke-" + std::to_string(::getpid());
  const std::string image_ = "localhost/" + name_ + ":test";
  testcerts::TempDir dir_;
  std::string storage_, pinRoot_, runDir_, cgroupRoot_;
  UniqueFd netns_;
  std::unique_ptr<testkube::KubeApiServer> api_;
  std::vector<std::string> podman_;  // podman with the test's own storage

  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the image smoke test runs as root (podman --privileged, BPF)";
    storage_ = dir_.file("storage");
    pinRoot_ = "/sys/fs/bpf/" + name_;
    runDir_ = dir_.file("run");
    fs::create_directories(runDir_);
    // What the DaemonSet mounts from the warren-cluster ConfigMap.
    fs::create_directories(dir_.file("cluster"));
    std::ofstream(dir_.file("cluster/namespaces.yaml"))
        << "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n";
    podman_ = {"podman", "--root", storage_ + "/root", "--runroot", storage_ + "/run", "--storage-driver", "vfs",
               "--cgroup-manager", "cgroupfs", "--events-backend", "file",
               // runc: crun refuses hybrid cgroup hosts (v1 plus a unified
               // hierarchy with controllers), as this project's CI VM is.
               "--runtime", "runc"};
    auto cg = detectCgroup2Root();
    ASSERT_TRUE(cg) << cg.error().message;
    cgroupRoot_ = *cg;

    ASSERT_EQ(runCommand({"ip", "netns", "add", name_}), 0);
    ASSERT_EQ(runCommand({"ip", "-n", name_, "link", "set", "lo", "up"}), 0);
    auto ns = openNetns("/run/netns/" + name_);
    ASSERT_TRUE(ns) << ns.error().message;
    netns_ = std::move(*ns);

    // The API server listens inside the netns: its socket is made there.
    auto ca = identity::LocalCa::open(dir_.file("ca"), "cluster.local");
    ASSERT_TRUE(ca) << ca.error().message;
    auto cert = testcerts::issueCert(dir_.file("ca"), {"IP:127.0.0.1"}, dir_.path(), "apiserver");
    ASSERT_TRUE(cert) << cert.error().message;
    {
      auto in = ScopedNetns::enter(netns_.get());
      ASSERT_TRUE(in) << in.error().message;
      api_ = std::make_unique<testkube::KubeApiServer>(cert->chain, cert->key, "sa-token");
    }
    api_->upsert(
        "namespaces",
        {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "default"}, {"uid", "ns-default"}}}});
    // A pod's service account, where the kubelet mounts it.
    fs::create_directories(dir_.file("sa"));
    std::ofstream(dir_.file("sa/token")) << "sa-token\n";
    fs::copy_file(cert->root, dir_.file("sa/ca.crt"));
    std::ofstream(dir_.file("sa/namespace")) << "warren-system\n";
  }

  void TearDown() override {
    // Containers first (they hold the pins' users and the netns), then the store.
    for (const char* c : {"agent", "tunnel"}) {
      auto rm = podman_;
      rm.insert(rm.end(), {"rm", "-f", "-t", "0", name_ + "-" + c});
      runCommand(rm);
    }
    auto rmi = podman_;
    rmi.insert(rmi.end(), {"rmi", "-f", image_});
    runCommand(rmi);
    // The image store is the test's own: removing it leaves nothing of the image.
    std::error_code ec;
    fs::remove_all(storage_, ec);
    // Pins: removing a link's pin detaches it once no process holds it.
    runCommand({kBuildDir + "/bin/warren-agent", "--uninstall", "--bpffs", pinRoot_});
    fs::remove_all(pinRoot_, ec);
    api_.reset();
    netns_.reset();
    runCommand({"ip", "netns", "del", name_});
  }

  std::vector<std::string> podmanRun(const std::string& container, std::vector<std::string> command) {
    std::vector<std::string> argv = podman_;
    argv.insert(argv.end(),
                {"run", "-d", "--name", name_ + "-" + container, "--ulimit", limit(RLIMIT_NOFILE, "nofile"), "--ulimit",
                 // Below any inherited limit: runc may not raise it back either.
                 "nproc=8192:8192", "--privileged", "--pid", "host", "--network", "ns:/run/netns/" + name_,
                 // As the DaemonSet's hostPath volumes: bpffs with Bidirectional
                 // propagation, the host's cgroup hierarchy, the shared run dir.
                 "-v", "/sys/fs/bpf:/sys/fs/bpf:rshared", "-v", "/sys/fs/cgroup:/sys/fs/cgroup", "-v",
                 runDir_ + ":/run/warren", "-v", dir_.file("cluster") + ":/etc/warren/cluster:ro", "-v",
                 dir_.file("sa") + ":/var/run/secrets/kubernetes.io/serviceaccount:ro", "-e",
                 "KUBERNETES_SERVICE_HOST=127.0.0.1", "-e",
                 "KUBERNETES_SERVICE_PORT=" + api_->url().substr(api_->url().rfind(':') + 1), "-e",
                 "NODE_NAME=" + name_, image_});
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
  }

  // podman's default limits are above what root without CAP_SYS_RESOURCE (a
  // container CI runs in) may set: the test's own limits instead.
  static std::string limit(int resource, const std::string& name) {
    rlimit r{};
    ::getrlimit(resource, &r);
    auto text = [](rlim_t v) { return v == RLIM_INFINITY ? std::string("-1") : std::to_string(v); };
    return name + "=" + text(r.rlim_cur) + ":" + text(r.rlim_max);
  }

  std::string logs(const std::string& container) {
    auto argv = podman_;
    argv.insert(argv.end(), {"logs", name_ + "-" + container});
    return run(argv);
  }

  // SIGTERM, as the kubelet stops a container, and the container's exit status.
  int stop(const std::string& container) {
    auto argv = podman_;
    argv.insert(argv.end(), {"stop", "-t", "20", name_ + "-" + container});
    EXPECT_EQ(runCommand(argv), 0);
    argv = podman_;
    argv.insert(argv.end(), {"inspect", "--format", "{{.State.ExitCode}}", name_ + "-" + container});
    return std::atoi(run(argv).c_str());
  }
};

TEST_F(ImageSmokeTest, AgentAndTunnelStartReadyAndTheAgentUninstallsOnlyWhenItsDaemonSetIsGone) {
  // The image, from this build tree.
  const auto t0 = std::chrono::steady_clock::now();
  std::string out;
  ASSERT_EQ(runCommand({"bash", kSourceDir + "/scripts/build-image.sh", "--build-dir", kBuildDir, "--tag", image_,
                        "--archive", "", "--storage", storage_},
                       &out),
            0)
      << out;
  std::cout << out << "image build: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms\n";

  // The DaemonSet's containers, with its arguments (daemonset/base/daemonset.yaml).
  std::string started;
  ASSERT_EQ(
      runCommand(podmanRun("agent", {"/usr/local/bin/warren-agent", "--node", name_, "--kube", "--bpffs", pinRoot_,
                                     "--health-address", "127.0.0.1:15022", "--uninstall-when-removed", kDaemonSet}),
                 &started),
      0)
      << started;
  // As the standalone overlay runs it: its cluster state from the API too.
  ASSERT_EQ(runCommand(podmanRun("tunnel", {"/usr/local/bin/warren-tunnel", "--kube", "--ca-dir", "/var/lib/warren/ca",
                                            "--bpffs", pinRoot_}),
                       &started),
            0)
      << started;

  std::string why;
  ASSERT_TRUE(waitReady(netns_.get(), 15022, 60s, &why)) << "agent not ready: " << why << "\n" << logs("agent");
  ASSERT_TRUE(waitReady(netns_.get(), 15021, 60s, &why)) << "tunnel not ready: " << why << "\n" << logs("tunnel");
  EXPECT_EQ(httpStatus(netns_.get(), 15022, "/healthz/live"), 200);
  // The agent read the cluster from the API, as a pod: a list of each resource.
  EXPECT_TRUE(api_->waitFor([](const auto& rs) {
    bool pods = false, namespaces = false;
    for (const auto& r : rs) {
      pods |= r.resource == "pods" && r.status == 200 && r.query.count("fieldSelector");
      namespaces |= r.resource == "namespaces" && r.status == 200;
    }
    return pods && namespaces;
  }));

  // Attached at the host's cgroup2 root, through links pinned on the host's bpffs.
  const auto links = pinnedLinks(pinRoot_);
  ASSERT_FALSE(links.empty()) << "no link pinned under " << pinRoot_ << "\n" << logs("agent");
  auto attached = cgroupProgs(cgroupRoot_);
  size_t atRoot = 0;
  for (const auto& l : links) atRoot += attached.count(l.progId);
  EXPECT_GE(atRoot, 4u) << "connect4/6 and getpeername4/6 at " << cgroupRoot_;

  // A restart: the DaemonSet is still there, capture stays for the next agent.
  api_->upsert("daemonsets", {{"apiVersion", "apps/v1"},
                              {"kind", "DaemonSet"},
                              {"metadata", {{"name", "warren-node"}, {"namespace", "warren-system"}}}});
  EXPECT_EQ(stop("agent"), 0) << logs("agent");
  for (const auto& l : links) EXPECT_TRUE(linkExists(l.id)) << l.pin << " went with a restart";

  // An uninstall: the DaemonSet is gone. A new agent starts from the pins, then
  // its SIGTERM removes them, and the programs leave the cgroup root.
  api_->removeSilently("daemonsets", kDaemonSet);
  auto rm = podman_;
  rm.insert(rm.end(), {"rm", name_ + "-agent"});
  ASSERT_EQ(runCommand(rm), 0);
  ASSERT_EQ(
      runCommand(podmanRun("agent", {"/usr/local/bin/warren-agent", "--node", name_, "--kube", "--bpffs", pinRoot_,
                                     "--health-address", "127.0.0.1:15022", "--uninstall-when-removed", kDaemonSet}),
                 &started),
      0)
      << started;
  ASSERT_TRUE(waitReady(netns_.get(), 15022, 60s, &why)) << "agent not ready again: " << why << "\n" << logs("agent");
  const auto again = pinnedLinks(pinRoot_);
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(stop("agent"), 0) << logs("agent");
  EXPECT_NE(logs("agent").find("uninstalled"), std::string::npos) << logs("agent");
  for (const auto& l : again) EXPECT_FALSE(linkExists(l.id)) << l.pin << " (link " << l.id << ") still exists";
  attached = cgroupProgs(cgroupRoot_);
  for (const auto& l : again) EXPECT_EQ(attached.count(l.progId), 0u) << "program " << l.progId << " still attached";
  EXPECT_TRUE(pinnedLinks(pinRoot_).empty());

  EXPECT_EQ(stop("tunnel"), 0) << logs("tunnel");
}

}  // namespace
}  // namespace warren
