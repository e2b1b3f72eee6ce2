#pragma once
// The cluster fixture every e2e suite and benchmark runs on: a Warren node made of
// network namespaces on this machine.
// Pods are netns whose interface the real CNI bridge + host-local plugins make,
// invoked as a runtime does, with warren-cni chained. warren-agent and
// warren-tunnel are real processes, spawned and stopped by pid. Everything is
// made under names carrying this process's pid and removed in the destructor,
// also when a test fails.

#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "common/unique_fd.h"
#include "tests/support/pcap.h"

namespace warren::e2e {

// Runs a command to completion; returns its exit status (-1 if it could not run).
// stdout and stderr go to *output; `input` is fed on stdin; `env` adds variables.
int runCommand(const std::vector<std::string>& argv, std::string* output = nullptr, const std::string& input = "",
               const std::vector<std::string>& env = {});

// A child process owned by pid: stopped (SIGTERM, then SIGKILL) on destruction.
class Process {
 public:
  // With waitReady, passes --ready-fd and waits for "ready" (the child's own signal).
  static Result<std::unique_ptr<Process>> spawn(std::vector<std::string> argv, const std::string& logPath,
                                                bool waitReady, std::chrono::milliseconds timeout);
  // For programs with no --ready-fd: argv[0] is looked up in PATH, stdout and
  // stderr are read through a pipe (and copied to logPath) so the test can wait
  // for the program's own readiness line; waits for readyText unless it is empty.
  static Result<std::unique_ptr<Process>> spawnWatched(std::vector<std::string> argv, const std::string& logPath,
                                                       const std::string& readyText, std::chrono::milliseconds timeout);
  ~Process();
  pid_t pid() const { return pid_; }
  bool running();
  // Sends sig and reaps; returns the exit status.
  int stop(int sig);
  // spawnWatched only: waits until the output from offset `from` on contains text.
  bool waitForOutput(const std::string& text, std::chrono::milliseconds timeout, size_t from = 0);
  std::string output();

 private:
  explicit Process(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
  int status_ = 0;
  std::shared_ptr<struct OutputWatch> watch_;
};

struct Pod {
  std::string name, ns, ip, serviceAccount, netnsName, containerId;
  std::string netnsPath() const { return "/var/run/netns/" + netnsName; }
};

struct NodeOptions {
  // Unique per node of a test process: it names the node's netns, pins and dirs.
  std::string name = "node1";
  std::string subnet = "10.244.1.0/24";
  // Empty: the node's own YAML dir. Set: a dir shared with other nodes (a
  // cluster's single source of truth), which this node writes to but does not own.
  std::string configDir;
  // Empty: a local CA of the node's own. Set: a CA dir shared with other nodes (one trust domain).
  std::string caDir;
  // Set: the pods also route this CIDR (other nodes' pod subnets) via their gateway.
  std::string clusterCidr;
  // Extra warren-tunnel flags (e.g. a short --hbone-idle-timeout).
  std::vector<std::string> tunnelArgs;
  // Extra warren-agent flags (e.g. a small --conns-per-pod).
  std::vector<std::string> agentArgs;
  // Set: the agent and the tunnel read the cluster from the Kubernetes API this
  // kubeconfig names (a test API server) instead of the YAML dir.
  std::string kubeconfig;
};

class TestNode {
 public:
  explicit TestNode(NodeOptions options = {});
  ~TestNode();
  TestNode(const TestNode&) = delete;

  // Cluster state (the standalone YAML source the agent watches).
  void writeNamespace(const std::string& name, const std::map<std::string, std::string>& labels);
  void writePod(const Pod& pod, const std::map<std::string, std::string>& labels = {});
  void writeFile(const std::string& name, const std::string& content);
  void removeFile(const std::string& name);

  // Writes the Pod, makes its netns and runs the CNI chain (ADD). Returns the
  // CNI runtime's exit status in *cniStatus when given, else asserts success.
  Pod addPod(const std::string& ns, const std::string& name, const std::string& ip,
             const std::map<std::string, std::string>& labels = {}, int* cniStatus = nullptr,
             std::string* cniOutput = nullptr);
  int cni(const std::string& command, const Pod& pod, std::string* output = nullptr);
  // Makes the pod's netns (removed with the node) and nothing else: no Pod
  // written, no CNI call; for tests that drive each step themselves.
  Pod preparePod(const std::string& ns, const std::string& name, const std::string& ip);

  Status startAgent();
  int stopAgent(int sig);
  // Another warren-agent beside the node's own (a DaemonSet surge's new one), same
  // flags and dirs, logging to "<logName>.log"; returns once it says ready.
  Result<std::unique_ptr<Process>> spawnAgent(const std::string& logName);
  // waitReady false: returns once it runs, for tests of what it says before ready.
  Status startTunnel(bool waitReady = true);
  int stopTunnel(int sig);
  // Another warren-tunnel beside the node's own (an upgrade's new one), with the
  // same flags, logging to "<logName>.log"; with waitReady, returns once it says
  // ready (--ready-fd: every pod the agent handed over is listened for).
  Result<std::unique_ptr<Process>> spawnTunnel(const std::string& logName, bool waitReady = true);
  // Stops the tunnel (SIGTERM) and starts it again with the node's flags and
  // `extraArgs` after them (a benchmark's second configuration); returns once ready.
  Status restartTunnel(const std::vector<std::string>& extraArgs);
  // warren-waypoint for Gateway `gateway` ("ns/name") inside `pod`'s netns, with
  // this node's YAML dir (or its kubeconfig's API) and CA; its log is "waypoint-<pod name>". It logs at debug
  // level; extraArgs come last (a benchmark's "--log-level info" wins).
  Status startWaypoint(const Pod& pod, const std::string& gateway, const std::vector<std::string>& extraArgs = {});
  int stopWaypoint(int sig);
  Process* waypoint() { return waypoint_.get(); }
  Process* agent() { return agent_.get(); }
  Process* tunnel() { return tunnel_.get(); }

  // Runs warrenctl against this node's pins.
  int warrenctl(const std::vector<std::string>& args, std::string* output);

  // The tunnel's cluster state as its admin endpoint (15000 in the node netns)
  // reports it: what a test waits on before dialing, never a log line's wording.
  struct StateCounts {
    size_t workloads = 0, captured = 0, services = 0;
    bool operator==(const StateCounts&) const = default;
  };
  std::optional<StateCounts> tunnelState() const;
  bool tunnelStateIs(const StateCounts& want) const { return tunnelState() == want; }

  std::string logTail(const std::string& which, size_t lines = 40) const;
  std::string readLog(const std::string& which) const;

  const std::string& pinRoot() const { return pinRoot_; }
  const std::string& runDir() const { return runDir_; }
  // The tunnel writes its admin token here (never the host's /run/warren); warrenctl() reads it.
  std::string adminTokenFile() const { return runDir_ + "/admin-token"; }
  const std::string& configDir() const { return configDir_; }
  const std::string& nodeNetns() const { return nodeNetns_; }
  const std::string& name() const { return options_.name; }
  std::string binPath(const std::string& name) const;

 private:
  std::string netnsName(const std::string& suffix) const;

  NodeOptions options_;
  std::string tag_;
  std::string root_, configDir_, caDir_, runDir_, pinRoot_, conflist_;
  std::string nodeNetns_;
  std::vector<Pod> pods_;
  std::unique_ptr<Process> agent_, tunnel_, waypoint_;
  int podSeq_ = 0;
};

// Two nodes sharing one config dir, their node netns joined by a veth underlay:
//
//   pods 10.244.1.0/24 - wbr0 [node1 netns] u1 10.99.0.1/30
//                                             ||  veth (names: we2e<pid>u1, we2e<pid>u2)
//   pods 10.244.2.0/24 - wbr0 [node2 netns] u2 10.99.0.2/30
//
// Each node netns forwards and routes the other's pod subnet via the other's
// underlay address. Nothing is added to the root netns.
class TestCluster {
 public:
  // tunnelArgs, agentArgs: extra warren-tunnel and warren-agent flags for both
  // nodes; "{node}" in one becomes the node's name ("node1", "node2").
  explicit TestCluster(std::vector<std::string> tunnelArgs = {}, std::vector<std::string> agentArgs = {});
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;

  static constexpr size_t kNodes = 2;
  TestNode& node(size_t i) { return *nodes_.at(i); }
  // Starts every node's agent, then its tunnel; an error names the node and carries
  // the failing daemon's log tail.
  Status start();
  // Every node's agent and tunnel log tails, headed by node and daemon (for failures).
  std::string logTails(size_t lines = 40) const;
  const std::string& underlayInterface(size_t i) const { return underlayIf_.at(i); }
  const std::string& underlayIp(size_t i) const { return underlayIp_.at(i); }
  const std::string& configDir() const { return configDir_; }
  // The local CA every node signs with (one trust domain): a test issues its own
  // mesh identities from it (tests/support/test_certs.h).
  std::string caDir() const { return root_ + "/ca"; }

 private:
  std::string root_, configDir_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
  std::vector<std::string> underlayIf_, underlayIp_;
};

// tcpdump inside a netns, writing a pcap file; started once tcpdump says it listens.
class PacketCapture {
 public:
  static Result<std::unique_ptr<PacketCapture>> start(const std::string& netnsName, const std::string& interface,
                                                      const std::string& filter);
  ~PacketCapture();
  PacketCapture(const PacketCapture&) = delete;
  // Waits until tcpdump has written every packet the kernel passed it (its own
  // counters), stops it (SIGINT) and returns the pcap file's bytes.
  std::string stop();
  // tcpdump's own output (its "N packets captured" once stopped).
  std::string log();

 private:
  PacketCapture() = default;
  void waitWritten();
  std::unique_ptr<Process> proc_;
  std::string dir_, file_;
};

// ---- acting as an app inside a pod -------------------------------------------------

// A listening IPv4 TCP socket on port (any address) inside the netns at
// netnsPath, SO_REUSEADDR set; nullopt when it cannot be made.
std::optional<UniqueFd> listenInNetns(const std::string& netnsPath, uint16_t port, int backlog);

// A TCP server inside a pod's netns: echoes what it reads, records each peer.
class PodServer {
 public:
  static std::unique_ptr<PodServer> start(const std::string& netnsPath, uint16_t port);
  ~PodServer();
  // Peers seen so far ("10.244.1.5:41234").
  std::vector<std::string> peers();
  size_t accepted();

 private:
  PodServer() = default;
  void run();
  UniqueFd listener_, wake_;
  std::unique_ptr<struct PodServerState> state_;
};

struct ConnectResult {
  int error = 0;      // errno of connect/IO, 0 on success
  std::string local;  // getsockname() as the app sees it
  std::string peer;   // getpeername() as the app sees it
  std::string reply;  // what came back for the payload
};

// connect() from inside a pod, send payload, read the echo (up to payload size).
// A plain HTTP/1.1 request to 127.0.0.1:port inside a netns (a node's metrics,
// readiness and admin ports). status 0: no answer. `headers`: extra header lines,
// each ending in CRLF (e.g. the admin token's Authorization).
struct HttpReply {
  int status = 0;
  std::string body;
};
HttpReply httpRequest(const std::string& netnsPath, const std::string& method, const std::string& target, uint16_t port,
                      const std::string& headers = "");
// The tunnel's metric `name` (an unlabelled counter or gauge) from its 15020 in the
// node netns; nullopt when the port does not answer or the metric is not there.
std::optional<double> tunnelMetric(const TestNode& node, const std::string& name);

ConnectResult connectFrom(const std::string& netnsPath, const std::string& ip, uint16_t port,
                          const std::string& payload, std::chrono::milliseconds timeout = std::chrono::seconds(5));

// ---- reading the node's pinned maps ---------------------------------------------------
size_t mapEntryCount(const std::string& pinRoot, const char* mapName);
bool isEnrolled(const std::string& pinRoot, const std::string& netnsPath);
struct PodCounters {
  uint64_t capturedOut = 0, capturedIn = 0, passed = 0, failedClosed = 0, quotaRefused = 0, udpSends = 0;
};
PodCounters podCounters(const std::string& pinRoot, const std::string& netnsPath);

// Polls `cond` until true or timeout: for state with no event to wait on (maps).
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

std::string sockaddrString(const sockaddr_storage& ss);
// The node tunnel's access-log lines ("access {...}") as JSON objects, oldest first.
std::vector<nlohmann::json> accessLog(const TestNode& node);
// "10.244.1.5:41234" -> "10.244.1.5" / "41234" (the peers PodServer records).
inline std::string hostOf(const std::string& hostPort) { return hostPort.substr(0, hostPort.rfind(':')); }
inline std::string portOf(const std::string& hostPort) { return hostPort.substr(hostPort.rfind(':') + 1); }
size_t openFdCount(pid_t pid);

}  // namespace warren::e2e
