// Bad input reaches the agent from every side; each gets a clear error and the
// agent keeps serving the pods it has.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/netns.h"
#include "common/unique_fd.h"
#include "tests/support/cluster.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_unique<TestNode>();
    node_->writeNamespace("mesh", {{"warren.io/mode", "enabled"}});
    ASSERT_TRUE(node_->startAgent().ok()) << node_->logTail("agent");
    ASSERT_TRUE(node_->startTunnel().ok()) << node_->logTail("tunnel");
    a1_ = node_->addPod("mesh", "a1", "10.244.1.21");
    ASSERT_TRUE(isEnrolled(node_->pinRoot(), a1_.netnsPath()));
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- agent log ----\n" << node_->logTail("agent", 60);
    node_.reset();
  }

  // The agent is alive and still enrolls a new pod end to end.
  Pod expectStillServing(const std::string& name, const std::string& ip) {
    EXPECT_TRUE(node_->agent() && node_->agent()->running()) << "the agent died";
    auto known = [&] {
      auto s = node_->tunnelState();
      return s ? s->workloads : 0;
    };
    const size_t before = known();
    Pod p = node_->addPod("mesh", name, ip);
    EXPECT_TRUE(isEnrolled(node_->pinRoot(), p.netnsPath()));
    // The tunnel's own view of the pods (its watch of the YAML directory) has the
    // new pod too, so that a connection from it is known as the mesh pod it is.
    EXPECT_TRUE(eventually([&] { return known() > before; }, std::chrono::seconds(10))) << node_->logTail("tunnel");
    EXPECT_TRUE(isEnrolled(node_->pinRoot(), a1_.netnsPath()));
    return p;
  }

  std::unique_ptr<TestNode> node_;
  Pod a1_;
};

TEST_F(BadInputTest, MalformedYamlIsReportedWithItsFileAndTheRestStillLoads) {
  node_->writeFile("broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n");
  ASSERT_TRUE(eventually([&] { return node_->readLog("agent").find("broken.yaml") != std::string::npos; }, 2s))
      << node_->logTail("agent");
  expectStillServing("a2", "10.244.1.22");
}

TEST_F(BadInputTest, PodWithoutAnIpIsEnrolledWithTheRuntimesAddress) {
  // As every Pod is at CNI ADD on a real cluster: the kubelet writes the IP later.
  Pod ghost = node_->preparePod("mesh", "ghost", "10.244.1.25");
  node_->writeFile("noip.yaml",
                   "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ghost\n  namespace: mesh\n  uid: uid-mesh-ghost\n"
                   "spec:\n  serviceAccountName: x\n");
  std::string out;
  ASSERT_EQ(node_->cni("add", ghost, &out), 0) << out;
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), ghost.netnsPath()));
  expectStillServing("a3", "10.244.1.23");
}

TEST_F(BadInputTest, AddOfAPodMissingFromTheConfigFailsInACapturingNamespace) {
  Pod missing = node_->preparePod("mesh", "unwritten", "10.244.1.26");
  std::string out;
  EXPECT_NE(node_->cni("add", missing, &out), 0) << out;
  EXPECT_NE(out.find("\"code\":11"), std::string::npos) << out;
  EXPECT_NE(out.find("pod mesh/unwritten is not in the cluster view, and namespace mesh captures"), std::string::npos)
      << out;
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), missing.netnsPath()));
  // A namespace that does not capture (here, one the directory does not name) is not held up.
  Pod other = node_->preparePod("elsewhere", "free", "10.244.1.27");
  EXPECT_EQ(node_->cni("add", other, &out), 0) << out;
  expectStillServing("a5", "10.244.1.28");
}

TEST_F(BadInputTest, CniAddWithAMissingNetnsIsRefusedClearly) {
  const std::string missing = "/var/run/netns/we2e-does-not-exist";
  std::string config = R"({"cniVersion":"1.0.0","name":"warren-e2e","type":"warren-cni","agentSocket":")" +
                       node_->runDir() + R"(/cni.sock","prevResult":{"cniVersion":"1.0.0","interfaces":[],)" +
                       R"("ips":[{"address":"10.244.1.99/24"}]}})";
  std::string out;
  int rc = runCommand({node_->binPath("warren-cni")}, &out, config,
                      {"CNI_COMMAND=ADD", "CNI_CONTAINERID=bad-1", "CNI_NETNS=" + missing, "CNI_IFNAME=eth0",
                       "CNI_PATH=/usr/lib/cni", "CNI_ARGS=K8S_POD_NAMESPACE=mesh;K8S_POD_NAME=bad"});
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("\"code\""), std::string::npos) << out;
  EXPECT_NE(out.find(missing), std::string::npos) << "the error should name the netns: " << out;
  expectStillServing("a4", "10.244.1.24");
}

TEST_F(BadInputTest, GarbageOnTheAgentSocketsIsRefusedAndTheAgentKeepsServing) {
  for (auto [path, type] : {std::pair{node_->runDir() + "/cni.sock", SOCK_STREAM},
                            std::pair{node_->runDir() + "/zds.sock", SOCK_SEQPACKET}}) {
    UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << path;
    const char garbage[] = "\xff\x00\x13\x37 this is not a protocol message \x01\x02";
    EXPECT_GT(::send(fd.get(), garbage, sizeof(garbage), MSG_NOSIGNAL), 0);
  }
  Pod fresh = expectStillServing("a5", "10.244.1.25");
  // The tunnel is still connected and took the new pod: its connection is relayed.
  auto server = PodServer::start(a1_.netnsPath(), 8080);
  ASSERT_TRUE(server);
  ConnectResult r = connectFrom(fresh.netnsPath(), a1_.ip, 8080, "after-garbage");
  ASSERT_EQ(r.error, 0) << std::strerror(r.error);
  EXPECT_EQ(r.reply, "after-garbage");
  EXPECT_EQ(hostOf(server->peers().at(0)), fresh.ip) << "the app sees the client's address";
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& rec : accessLog(*node_))
          if (rec["direction"] == "inbound" && rec["pod"] == "mesh/a1" && rec.value("hbone_status", 0) == 200)
            return true;
        return false;
      },
      5s))
      << "the connection did not pass through a1's tunnel";
}

// A second tunnel on a node whose metrics port is taken (say, the old tunnel
// still draining during an upgrade) must say which address and stop with status 1,
// before it touches any pod, not abort.
// Another tunnel binds the telemetry ports beside this one (SO_REUSEPORT, an
// upgrade); a port held by any other program, without it, is a clash: the start
// fails cleanly and says which address.
TEST_F(BadInputTest, ATunnelWhoseTelemetryPortIsTakenExitsWithAClearError) {
  auto ns = openNetns("/var/run/netns/" + node_->nodeNetns());
  ASSERT_TRUE(ns.ok());
  auto squatter = socketInNetns(ns->get(), AF_INET, SOCK_STREAM);
  ASSERT_TRUE(squatter.ok());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(15099);
  ASSERT_EQ(::bind(squatter->get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
  ASSERT_EQ(::listen(squatter->get(), 1), 0);
  const std::string dir = node_->runDir() + "/second-tunnel";
  std::filesystem::create_directories(dir);
  auto second = Process::spawn(
      {"/usr/bin/nsenter", "--net=/var/run/netns/" + node_->nodeNetns(), node_->binPath("warren-tunnel"),
       "--agent-socket", dir + "/no-agent.sock", "--bpffs", node_->pinRoot(), "--config-dir", node_->configDir(),
       "--ca-dir", dir + "/ca", "--admin-token-file", dir + "/admin-token", "--metrics-address", "0.0.0.0:15099"},
      dir + "/tunnel.log", false, 0ms);
  ASSERT_TRUE(second.ok()) << second.error().message;
  ASSERT_TRUE(eventually([&] { return !(*second)->running(); }, 20s)) << "the second tunnel kept running";
  EXPECT_EQ((*second)->stop(SIGTERM), 1);
  std::ifstream in(dir + "/tunnel.log");
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("0.0.0.0:15099"), std::string::npos) << log;
  EXPECT_NE(log.find("Address already in use"), std::string::npos) << log;
  // The first tunnel still serves its pod.
  EXPECT_TRUE(node_->tunnel()->running());
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), a1_.netnsPath()));
}

}  // namespace
}  // namespace warren::e2e
