// warren-cni, its protocol to the agent, and warren-cnirun with the real plugins.

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "agent/cni/capture_scope.h"
#include "agent/cni/cni_protocol.h"
#include "agent/cni/net_conf.h"

namespace warren::cni {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

// ---- codec ------------------------------------------------------------------------------

TEST(Codec, RequestRoundTrips) {
  CniPodRequest r{"ADD", "ctr-1", "/var/run/netns/p", "eth0", "web", "shop", "uid-9", {"10.0.0.4", "fd00::4"}};
  auto back = decodeRequest(encodeRequest(r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->command, "ADD");
  EXPECT_EQ(back->netns, "/var/run/netns/p");
  EXPECT_EQ(back->podNamespace, "shop");
  EXPECT_EQ(back->ips, r.ips);
}

TEST(Codec, RejectsBadRequestsWithAReason) {
  const std::pair<const char*, const char*> bad[] = {
      {"not json", "not a JSON object"},
      {"[1,2]", "not a JSON object"},
      {R"({"command":"EXPLODE","containerId":"x"})", "ADD, DEL or CHECK"},
      {R"({"command":"ADD"})", "containerId is required"},
      {R"({"command":"ADD","containerId":7})", "'containerId' must be a string"},
      {R"({"command":"ADD","containerId":"x","ips":"10.0.0.1"})", "ips must be an array"},
      {R"({"command":"ADD","containerId":"x","ips":[1]})", "ips must be strings"},
  };
  for (auto [text, why] : bad) {
    auto r = decodeRequest(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(decodeReply(R"({"error":"x"})").ok());
}

// ---- server --------------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/warren-cni-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

// A fake agent: records requests, answers with the verdict set last. Its handler
// runs on the server's thread, and the plugin in between is another process (no
// happens-before TSan can see), so both sides go through `mu`.
struct FakeAgent {
  explicit FakeAgent(const std::string& socket) {
    auto s = CniServer::start(socket, [this](const CniPodRequest& r) -> Status {
      std::lock_guard lock(mu);
      seen.push_back(r);
      return verdict.empty() ? okStatus() : Status(makeError(verdict));
    });
    EXPECT_TRUE(s.ok());
    server = std::move(*s);
  }
  void setVerdict(std::string v) {
    std::lock_guard lock(mu);
    verdict = std::move(v);
  }
  std::mutex mu;
  std::vector<CniPodRequest> seen;
  std::string verdict;
  std::unique_ptr<CniServer> server;
};

UniqueFd connectTo(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

TEST(Server, AnswersAndReportsHandlerErrors) {
  TempDir d;
  FakeAgent agent(d.path + "/cni.sock");
  CniPodRequest req{"ADD", "c1", "/n", "eth0", "web", "shop", "", {"10.0.0.1"}};
  auto ok = sendCniRequest(d.path + "/cni.sock", req, 2s);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok);
  agent.setVerdict("netns /n is gone");
  auto no = sendCniRequest(d.path + "/cni.sock", req, 2s);
  ASSERT_TRUE(no.ok());
  EXPECT_FALSE(no->ok);
  EXPECT_EQ(no->error, "netns /n is gone");
}

TEST(Server, GarbageHugeFramesAndSilentClientsDoNotStopIt) {
  TempDir d;
  const std::string sock = d.path + "/cni.sock";
  FakeAgent agent(sock);
  UniqueFd silent = connectTo(sock);  // says nothing, holds its connection open

  UniqueFd huge = connectTo(sock);
  uint32_t len = htonl(100 * 1024 * 1024);
  ASSERT_EQ(::send(huge.get(), &len, 4, 0), 4);
  auto reply = readFrame(huge.get());
  ASSERT_TRUE(reply.ok());
  EXPECT_NE(decodeReply(*reply)->error.find("exceeds the 64 KiB limit"), std::string::npos);

  UniqueFd garbage = connectTo(sock);
  ASSERT_TRUE(writeFrame(garbage.get(), "\x01\x02 not json").ok());
  reply = readFrame(garbage.get());
  ASSERT_TRUE(reply.ok());
  EXPECT_FALSE(decodeReply(*reply)->ok);

  // A good client is served while the silent one still waits.
  auto good = sendCniRequest(sock, {"DEL", "c1", "", "", "web", "shop", "", {}}, 2s);
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good->ok);
  std::lock_guard lock(agent.mu);
  ASSERT_EQ(agent.seen.size(), 1u);
  EXPECT_EQ(agent.seen[0].command, "DEL");
}

// ---- the warren-cni binary -----------------------------------------------------------------

struct PluginResult {
  int status;
  std::string out;
};

PluginResult runPlugin(const std::vector<std::string>& env, const std::string& stdinText) {
  int in[2], out[2];
  EXPECT_EQ(::pipe(in), 0);
  EXPECT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::close(in[1]);
    ::close(out[0]);
    ::clearenv();
    for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
    ::execl(WARREN_CNI_BIN, WARREN_CNI_BIN, nullptr);
    _exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  (void)!::write(in[1], stdinText.data(), stdinText.size());
  ::close(in[1]);
  PluginResult r{0, ""};
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof(buf))) > 0) r.out.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  // A plugin killed by a signal (an uncaught exception aborts) is not "exit 0".
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

class PluginTest : public ::testing::Test {
 protected:
  std::string config(bool withPrev = true) {
    json c = {{"cniVersion", "1.0.0"}, {"name", "net"}, {"type", "warren-cni"}, {"agentSocket", socket_}};
    if (withPrev) c["prevResult"] = prev_;
    return c.dump();
  }
  std::vector<std::string> env(const std::string& command, bool withNetns = true, bool k8s = true) {
    std::vector<std::string> e = {"CNI_COMMAND=" + command, "CNI_CONTAINERID=ctr-1", "CNI_IFNAME=eth0",
                                  "CNI_PATH=/usr/lib/cni"};
    if (withNetns) e.push_back("CNI_NETNS=/var/run/netns/pod-1");
    if (k8s) e.push_back("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web;K8S_POD_UID=u1");
    return e;
  }
  TempDir dir_;
  std::string socket_ = dir_.path + "/cni.sock";
  json prev_ = {{"cniVersion", "1.0.0"},
                {"interfaces", {{{"name", "eth0"}, {"sandbox", "/var/run/netns/pod-1"}}}},
                {"ips", {{{"address", "10.244.0.7/24"}, {"gateway", "10.244.0.1"}, {"interface", 0}}}}};
};

TEST_F(PluginTest, VersionListsSupportedVersions) {
  auto r = runPlugin({"CNI_COMMAND=VERSION"}, "");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(json::parse(r.out)["supportedVersions"].back(), "1.0.0");
}

TEST_F(PluginTest, AddTellsTheAgentAndPassesPrevResultThrough) {
  FakeAgent agent(socket_);
  auto r = runPlugin(env("ADD"), config());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json::parse(r.out), prev_);
  std::lock_guard lock(agent.mu);
  ASSERT_EQ(agent.seen.size(), 1u);
  EXPECT_EQ(agent.seen[0].netns, "/var/run/netns/pod-1");
  EXPECT_EQ(agent.seen[0].podName, "web");
  EXPECT_EQ(agent.seen[0].podUid, "u1");
  EXPECT_EQ(agent.seen[0].ips, std::vector<std::string>{"10.244.0.7"});
}

TEST_F(PluginTest, AddFailsClosedWhenTheAgentIsDownOrRefuses) {
  auto down = runPlugin(env("ADD"), config());
  EXPECT_EQ(down.status, 1);
  auto j = json::parse(down.out);
  EXPECT_EQ(j["code"], 11);
  EXPECT_NE(j["msg"].get<std::string>().find("not reachable"), std::string::npos);

  FakeAgent agent(socket_);
  agent.setVerdict("open netns /var/run/netns/pod-1: No such file or directory");
  auto refused = runPlugin(env("ADD"), config());
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.out.find("/var/run/netns/pod-1"), std::string::npos) << refused.out;
}

TEST_F(PluginTest, WithTheAgentAwayOnlyCapturedNamespacesAreRefused) {
  // The agent's last word on which namespaces may be captured, beside its socket.
  auto scope = [&](const std::set<std::string>& namespaces) {
    std::ofstream(dir_.path + "/capture-scope.json") << cni::formatCaptureScope(namespaces);
  };
  scope({"shop"});
  auto refused = runPlugin(env("ADD"), config());
  EXPECT_EQ(refused.status, 1);
  EXPECT_EQ(json::parse(refused.out)["code"], 11);
  EXPECT_NE(refused.out.find("namespace shop is captured"), std::string::npos) << refused.out;

  scope({"payments"});
  auto passed = runPlugin(env("ADD"), config());
  ASSERT_EQ(passed.status, 0) << passed.out;
  EXPECT_EQ(json::parse(passed.out), prev_) << "prevResult passed through, nothing enrolled";

  // An unreadable file is no file: refuse.
  std::ofstream(dir_.path + "/capture-scope.json") << "{not json";
  EXPECT_EQ(runPlugin(env("ADD"), config()).status, 1);
}

TEST_F(PluginTest, WithTheAgentAwayAndNoScopeOnlyAlwaysPassNamespacesStart) {
  auto inNs = [&](const std::string& ns) {
    auto e = env("ADD");
    e.back() = "CNI_ARGS=K8S_POD_NAMESPACE=" + ns + ";K8S_POD_NAME=p;K8S_POD_UID=u";
    return e;
  };
  EXPECT_EQ(runPlugin(inNs("kube-system"), config()).status, 0) << "kube-system passes by default";
  EXPECT_EQ(runPlugin(inNs("shop"), config()).status, 1);
  json c = json::parse(config());
  c["alwaysPass"] = {"infra"};
  EXPECT_EQ(runPlugin(inNs("infra"), c.dump()).status, 0);
  EXPECT_EQ(runPlugin(inNs("kube-system"), c.dump()).status, 1) << "alwaysPass replaces the default";
}

TEST(CaptureScope, FormatParseAndTheDecision) {
  EXPECT_EQ(cni::parseCaptureScope(cni::formatCaptureScope({"a", "b"})), (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(cni::parseCaptureScope(cni::formatCaptureScope({})), std::set<std::string>{});
  for (const char* bad : {"", "[]", "{}", R"({"capturing_namespaces": "a"})", R"({"capturing_namespaces": [1]})"})
    EXPECT_FALSE(cni::parseCaptureScope(bad)) << bad;
  const std::set<std::string> pass = {"kube-system"};
  const std::optional<std::set<std::string>> scope = std::set<std::string>{"payments"};
  EXPECT_FALSE(cni::decideWithoutAgent("payments", scope, pass).passThrough);
  EXPECT_TRUE(cni::decideWithoutAgent("shop", scope, pass).passThrough);
  EXPECT_TRUE(cni::decideWithoutAgent("kube-system", std::nullopt, pass).passThrough);
  EXPECT_FALSE(cni::decideWithoutAgent("shop", std::nullopt, pass).passThrough);
  EXPECT_TRUE(cni::decideWithoutAgent("kube-system", std::set<std::string>{"kube-system"}, pass).passThrough)
      << "alwaysPass wins, whatever the scope says";
}

TEST_F(PluginTest, AddWithoutNetnsOrPrevResultIsAConfigError) {
  auto noNetns = runPlugin(env("ADD", false), config());
  EXPECT_EQ(noNetns.status, 1);
  EXPECT_EQ(json::parse(noNetns.out)["code"], 4);
  auto noPrev = runPlugin(env("ADD"), config(false));
  EXPECT_EQ(noPrev.status, 1);
  EXPECT_EQ(json::parse(noPrev.out)["code"], 7);
}

// Every field warren-cni reads, with a value of the wrong type: each is a CNI error
// result naming the field (code 7), never an uncaught exception (an abort, with
// nothing on stdout for the runtime to show).
struct BadConfigCase {
  const char* what;
  json patch;  // merged over a good configuration
  const char* mentions;
};
const BadConfigCase kBadConfigs[] = {
    {"cniVersion a number", {{"cniVersion", 1}}, "cniVersion"},
    {"agentSocket a number", {{"agentSocket", 42}}, "agentSocket"},
    {"timeoutMs a string", {{"timeoutMs", "5000"}}, "timeoutMs"},
    {"timeoutMs a fraction", {{"timeoutMs", 2.5}}, "timeoutMs"},
    {"timeoutMs zero (would disarm every timeout)", {{"timeoutMs", 0}}, "timeoutMs"},
    {"timeoutMs negative", {{"timeoutMs", -1}}, "timeoutMs"},
    {"captureScopeFile a list", {{"captureScopeFile", json::array({"a"})}}, "captureScopeFile"},
    {"alwaysPass a string", {{"alwaysPass", "kube-system"}}, "alwaysPass"},
    {"alwaysPass with a number", {{"alwaysPass", json::array({"kube-system", 7})}}, "alwaysPass"},
    {"prevResult a string", {{"prevResult", "none"}}, "prevResult"},
    {"prevResult.ips an object", {{"prevResult", {{"ips", {{"address", "10.0.0.1/24"}}}}}}, "prevResult.ips"},
    {"prevResult.ips entry a string", {{"prevResult", {{"ips", json::array({"10.0.0.1/24"})}}}}, "prevResult.ips"},
    {"prevResult.ips[].address a number", {{"prevResult", {{"ips", json::array({{{"address", 10}}})}}}}, "address"},
};

TEST(NetConf, WrongTypesAreConfigErrorsNamingTheField) {
  for (const auto& c : kBadConfigs) {
    json conf = {{"cniVersion", "1.0.0"}, {"name", "net"}, {"type", "warren-cni"}};
    conf.merge_patch(c.patch);
    auto r = parseNetConf(conf.dump());
    ASSERT_FALSE(r) << c.what;
    EXPECT_EQ(r.error().code, kInvalidConfig) << c.what;
    EXPECT_NE(r.error().message.find(c.mentions), std::string::npos) << c.what << ": " << r.error().message;
  }
}

TEST(NetConf, DefaultsAndAGoodConfiguration) {
  auto d = parseNetConf(R"({"cniVersion":"1.0.0"})");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->timeout, 5000ms);
  EXPECT_EQ(d->agentSocket, "/run/warren/cni.sock");
  EXPECT_EQ(d->alwaysPass, std::set<std::string>{"kube-system"});
  EXPECT_TRUE(d->prevResult.is_null());
  auto g = parseNetConf(R"({"cniVersion":"1.0.0","timeoutMs":250,"alwaysPass":["infra"],"agentSocket":"/x/cni.sock",)"
                        R"("prevResult":{"ips":[{"address":"10.244.0.7/24"},{"address":"fd00::7/64"}]}})");
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(g->timeout, 250ms);
  EXPECT_EQ(g->agentSocket, "/x/cni.sock");
  EXPECT_EQ(g->alwaysPass, std::set<std::string>{"infra"});
  EXPECT_EQ(g->podIps, (std::vector<std::string>{"10.244.0.7", "fd00::7"}));
  EXPECT_EQ(parseNetConf("[1]").error().code, kDecodeFailure);
  EXPECT_EQ(parseNetConf(R"({"cniVersion":"0.2.0"})").error().code, kIncompatibleVersion);
}

TEST_F(PluginTest, WrongTypesInTheConfigurationAreCniErrorsNotAborts) {
  for (const char* command : {"ADD", "CHECK", "DEL"})
    for (const auto& c : kBadConfigs) {
      json conf = json::parse(config());
      conf.merge_patch(c.patch);
      auto r = runPlugin(env(command), conf.dump());
      SCOPED_TRACE(std::string(command) + ", " + c.what);
      EXPECT_EQ(r.status, 1) << "exit status (128+N: killed by signal N)";
      json out = json::parse(r.out, nullptr, false);
      ASSERT_TRUE(out.is_object()) << "stdout: " << r.out;
      EXPECT_EQ(out["cniVersion"], "1.0.0");
      EXPECT_EQ(out["code"], kInvalidConfig);
      EXPECT_NE(out["msg"].get<std::string>().find(c.mentions), std::string::npos) << out["msg"];
    }
}

TEST_F(PluginTest, DelSucceedsEvenWithTheAgentDown) { EXPECT_EQ(runPlugin(env("DEL"), config()).status, 0); }

TEST_F(PluginTest, NonKubernetesSandboxesPassThroughUntouched) {
  auto r = runPlugin(env("ADD", true, false), config());  // agent down: not even asked
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json::parse(r.out), prev_);
}

// ---- warren-cnirun with the real Debian plugins (root) ----------------------------------------

class RealChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tag_ = "wcnit-" + std::to_string(::getpid());
    node_ = tag_ + "-node";
    pod_ = tag_ + "-pod";
    ASSERT_EQ(std::system(("ip netns add " + node_ + " && ip netns add " + pod_).c_str()), 0);
  }
  void TearDown() override {
    std::system(("ip netns del " + pod_ + " 2>/dev/null; ip netns del " + node_ + " 2>/dev/null").c_str());
  }
  int cnirun(const std::string& cmd, const std::string& conflist, std::string* out) {
    std::string line = "nsenter --net=/var/run/netns/" + node_ + " " + WARREN_CNIRUN_BIN + " " + cmd + " --conflist " +
                       conflist + " --netns /var/run/netns/" + pod_ + " --container-id " + tag_ +
                       " --args 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web' --cni-path /usr/lib/cni:" +
                       fs::path(WARREN_CNI_BIN).parent_path().string() + " 2>&1";
    FILE* p = ::popen(line.c_str(), "r");
    char buf[4096];
    size_t n;
    out->clear();
    while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
    return WEXITSTATUS(::pclose(p));
  }
  std::string tag_, node_, pod_;
  TempDir dir_;
};

TEST_F(RealChainTest, BridgeHostLocalAndWarrenCniGiveThePodItsAddressAndTellTheAgent) {
  FakeAgent agent(dir_.path + "/cni.sock");
  std::string conflist = dir_.path + "/net.conflist";
  std::ofstream(conflist) << json{
      {"cniVersion", "1.0.0"},
      {"name", "cnitest"},
      {"plugins",
       {{{"type", "bridge"},
         {"bridge", "wcnit0"},
         {"isGateway", true},
         {"ipam",
          {{"type", "host-local"}, {"ranges", {{{{"subnet", "10.244.99.0/24"}}}}}, {"dataDir", dir_.path + "/ipam"}}}},
        {{"type", "warren-cni"},
         {"agentSocket",
          dir_.path +
              "/cni.sock"}}}}}.dump();
  std::string out;
  ASSERT_EQ(cnirun("add", conflist, &out), 0) << out;
  auto result = json::parse(out);
  std::string addr = result["ips"][0]["address"];
  EXPECT_EQ(addr.rfind("10.244.99.", 0), 0u) << addr;

  std::string ipOut;
  FILE* p = ::popen(("ip -n " + pod_ + " -4 addr show eth0").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) ipOut.append(buf, n);
  ::pclose(p);
  EXPECT_NE(ipOut.find(addr.substr(0, addr.find('/'))), std::string::npos) << ipOut;
  {
    std::lock_guard lock(agent.mu);
    ASSERT_EQ(agent.seen.size(), 1u);
    EXPECT_EQ(agent.seen[0].netns, "/var/run/netns/" + pod_);
    EXPECT_EQ(agent.seen[0].ips.at(0), addr.substr(0, addr.find('/')));
  }

  ASSERT_EQ(cnirun("del", conflist, &out), 0) << out;
  EXPECT_NE(std::system(("ip -n " + pod_ + " link show eth0 >/dev/null 2>&1").c_str()), 0) << "eth0 survived DEL";
  std::lock_guard lock(agent.mu);
  EXPECT_EQ(agent.seen.back().command, "DEL");
}

}  // namespace
}  // namespace warren::cni
