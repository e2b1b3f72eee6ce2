#include "tests/support/cluster.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/netns.h"
#include "tools/warrenctl/decode.h"
#include "warren_abi.h"

namespace warren::e2e {
namespace fs = std::filesystem;

namespace {

std::string bin(const std::string& name) { return std::string(WARREN_BIN_DIR) + "/" + name; }

std::vector<char*> cArgv(std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (auto& a : argv) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string yamlLabels(const std::map<std::string, std::string>& labels, const std::string& indent) {
  if (labels.empty()) return "";
  std::string s = indent + "labels:\n";
  for (const auto& [k, v] : labels) s += indent + "  " + k + ": \"" + v + "\"\n";
  return s;
}

// In a forked child: stdin from stdinFd (when >= 0), stdout and stderr to outFd,
// killed with the test process, signals unblocked (the test may block some), then
// exec. args[0] is a path, or with searchPath a program looked up in PATH.
// Only async-signal-safe calls here, with `args` built before fork(): the test
// process has threads (the kube suites' API server, log drains), and a malloc in
// the child can wait forever on a lock one of them held at the fork (seen under
// ASan: a tunnel that never started and never wrote a line).
[[noreturn]] void execDaemonChild(char* const* args, int stdinFd, int outFd, bool searchPath) {
  if (stdinFd >= 0) ::dup2(stdinFd, 0);
  ::dup2(outFd, 1);
  ::dup2(outFd, 2);
  // A child must never outlive the test that made it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (searchPath)
    ::execvp(args[0], args);
  else
    ::execv(args[0], args);
  _exit(127);
}

// The environment with `overrides` ("NAME=value") in place of the same names,
// for execvpe: built before fork(), like the arguments.
std::vector<std::string> environmentWith(const std::vector<std::string>& overrides) {
  std::vector<std::string> out;
  auto overridden = [&](const char* entry) {
    for (const auto& kv : overrides) {
      const size_t eq = kv.find('=');
      if (eq != std::string::npos && std::strncmp(entry, kv.data(), eq + 1) == 0) return true;
    }
    return false;
  };
  for (char** e = environ; *e; ++e)
    if (!overridden(*e)) out.emplace_back(*e);
  out.insert(out.end(), overrides.begin(), overrides.end());
  return out;
}

}  // namespace

int runCommand(const std::vector<std::string>& argvIn, std::string* output, const std::string& input,
               const std::vector<std::string>& env) {
  std::vector<std::string> argv = argvIn;
  std::vector<std::string> envStrings = environmentWith(env);
  auto args = cArgv(argv);
  auto envp = cArgv(envStrings);
  int pipefd[2], infd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  if (::pipe2(infd, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {  // async-signal-safe calls only: see execDaemonChild
    ::dup2(infd[0], 0);
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  ::close(infd[0]);
  (void)!::write(infd[1], input.data(), input.size());
  ::close(infd[1]);
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// ---- Process ---------------------------------------------------------------------------

Result<std::unique_ptr<Process>> Process::spawn(std::vector<std::string> argv, const std::string& logPath,
                                                bool waitReady, std::chrono::milliseconds timeout) {
  int ready[2] = {-1, -1};
  if (waitReady) {
    if (::pipe(ready) != 0) return errnoError("pipe");
    ::fcntl(ready[0], F_SETFD, FD_CLOEXEC);  // the write end is inherited on purpose
    argv.push_back("--ready-fd");
    argv.push_back(std::to_string(ready[1]));
  }
  int log = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return errnoError("open " + logPath);
  auto args = cArgv(argv);
  pid_t pid = ::fork();
  if (pid < 0) return errnoError("fork");
  if (pid == 0) execDaemonChild(args.data(), -1, log, /*searchPath=*/false);
  ::close(log);
  std::unique_ptr<Process> proc(new Process(pid));
  if (!waitReady) return proc;
  ::close(ready[1]);
  UniqueFd readEnd(ready[0]);
  pollfd pfd{readEnd.get(), POLLIN, 0};
  int rc = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  char buf[16] = {};
  if (rc <= 0 || ::read(readEnd.get(), buf, sizeof(buf)) <= 0 || std::strncmp(buf, "ready", 5) != 0)
    return makeError(argv[0] + " did not become ready within " + std::to_string(timeout.count()) + " ms; see " +
                     logPath);
  return proc;
}

// The reading side of a spawnWatched child's output.
struct OutputWatch {
  std::mutex mu;
  std::condition_variable cv;
  std::string text;
  bool eof = false;
  UniqueFd pipe, wake, log;
  std::thread thread;
  // Held across a read and its append, by the thread and by readNow(): the
  // output stays in the order it was written whoever reads it.
  std::mutex readMu;

  void append(const char* data, size_t n) {
    (void)!::write(log.get(), data, n);
    std::lock_guard lock(mu);
    text.append(data, n);
    cv.notify_all();
  }

  // Reads what the pipe holds now (it is non-blocking). False at EOF or error.
  bool readAvailable() {
    std::lock_guard lock(readMu);
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(pipe.get(), buf, sizeof(buf));
      if (n > 0) {
        append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && errno == EAGAIN;
    }
  }

  // What the child wrote before the caller looked is in `text` when this
  // returns: a line the child wrote before answering a request is there once the
  // answer has arrived, whether or not the thread has woken for it yet.
  void readNow() {
    bool done;
    {
      std::lock_guard lock(mu);
      done = eof;
    }
    if (!done) readAvailable();
  }

  // Copies the child's output until EOF, or until woken (the child was reaped;
  // a grandchild may still hold the pipe): then takes what is buffered and stops.
  void drain() {
    for (;;) {
      pollfd pfds[2] = {{pipe.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
      if (::poll(pfds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (pfds[0].revents && !readAvailable()) break;
      if (pfds[1].revents) {
        readAvailable();
        break;
      }
    }
    std::lock_guard lock(mu);
    eof = true;
    cv.notify_all();
  }
};

Result<std::unique_ptr<Process>> Process::spawnWatched(std::vector<std::string> argv, const std::string& logPath,
                                                       const std::string& readyText,
                                                       std::chrono::milliseconds timeout) {
  auto watch = std::make_shared<OutputWatch>();
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return errnoError("pipe");
  watch->pipe = UniqueFd(out[0]);
  UniqueFd writeEnd(out[1]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  watch->wake = UniqueFd(::eventfd(0, EFD_CLOEXEC));
  watch->log = UniqueFd(::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!watch->wake || !watch->log) return errnoError("eventfd/open " + logPath);
  int devNull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto args = cArgv(argv);
  pid_t pid = ::fork();
  if (pid < 0) return errnoError("fork");
  if (pid == 0) execDaemonChild(args.data(), devNull, out[1], /*searchPath=*/true);
  ::close(devNull);
  writeEnd.reset();
  std::unique_ptr<Process> proc(new Process(pid));
  proc->watch_ = watch;
  watch->thread = std::thread([w = watch.get()] { w->drain(); });
  if (!readyText.empty() && !proc->waitForOutput(readyText, timeout))
    return makeError(argv[0] + " did not print \"" + readyText + "\" within " + std::to_string(timeout.count()) +
                     " ms; its output:\n" + proc->output());
  return proc;
}

bool Process::waitForOutput(const std::string& text, std::chrono::milliseconds timeout, size_t from) {
  if (!watch_) return false;
  std::unique_lock lock(watch_->mu);
  auto found = [&] { return watch_->text.size() >= from && watch_->text.find(text, from) != std::string::npos; };
  watch_->cv.wait_for(lock, timeout, [&] { return found() || watch_->eof; });
  return found();
}

std::string Process::output() {
  if (!watch_) return "";
  watch_->readNow();
  std::lock_guard lock(watch_->mu);
  return watch_->text;
}

bool Process::running() {
  if (reaped_) return false;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

int Process::stop(int sig) {
  if (!reaped_) {
    ::kill(pid_, sig);
    // Give a graceful stop a few seconds, then insist.
    for (int i = 0; i < 500 && ::waitpid(pid_, &status_, WNOHANG) == 0; ++i) ::usleep(10000);
    if (::waitpid(pid_, &status_, WNOHANG) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
    }
    reaped_ = true;
  }
  if (watch_ && watch_->thread.joinable()) {
    uint64_t one = 1;
    (void)!::write(watch_->wake.get(), &one, sizeof(one));
    watch_->thread.join();
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

Process::~Process() { stop(SIGTERM); }

// ---- TestNode -------------------------------------------------------------------------

TestNode::TestNode(NodeOptions options) : options_(std::move(options)) {
  tag_ = "we2e-" + std::to_string(::getpid()) + "-" + options_.name;
  root_ = "/tmp/" + tag_;
  fs::remove_all(root_);
  configDir_ = options_.configDir.empty() ? root_ + "/cluster" : options_.configDir;
  caDir_ = options_.caDir.empty() ? root_ + "/ca" : options_.caDir;
  runDir_ = root_ + "/run";
  pinRoot_ = "/sys/fs/bpf/warren-e2e-" + std::to_string(::getpid()) + "-" + options_.name;
  fs::create_directories(configDir_);
  fs::create_directories(runDir_);
  fs::create_directories(root_ + "/ipam");

  nodeNetns_ = tag_;
  runCommand({"ip", "netns", "add", nodeNetns_});
  runCommand({"ip", "-n", nodeNetns_, "link", "set", "lo", "up"});

  conflist_ = root_ + "/warren.conflist";
  // The pods reach other nodes' subnets through their gateway, the bridge in the node netns.
  const std::string routes =
      options_.clusterCidr.empty() ? "" : R"(,"routes":[{"dst":")" + options_.clusterCidr + R"("}])";
  writeText(conflist_, R"({"cniVersion":"1.0.0","name":"warren-e2e","plugins":[
 {"type":"bridge","bridge":"wbr0","isGateway":true,"ipMasq":false,
  "ipam":{"type":"host-local","ranges":[[{"subnet":")" +
                           options_.subnet + R"("}]],"dataDir":")" + root_ + R"(/ipam")" + routes + R"(}},
 {"type":"warren-cni","agentSocket":")" +
                           runDir_ + R"(/cni.sock","timeoutMs":10000}]})");
}

TestNode::~TestNode() {
  // Order: pods out of the runtime while the agent still listens, then the daemons,
  // then the pins (detaching the programs), then the namespaces and files.
  waypoint_.reset();
  for (auto it = pods_.rbegin(); it != pods_.rend(); ++it) cni("del", *it);
  tunnel_.reset();
  agent_.reset();
  runCommand({bin("warren-agent"), "--uninstall", "--bpffs", pinRoot_});
  fs::remove_all(pinRoot_);
  for (const auto& p : pods_) runCommand({"ip", "netns", "del", p.netnsName});
  runCommand({"ip", "netns", "del", nodeNetns_});
  if (!::testing::Test::HasFailure())
    fs::remove_all(root_);
  else
    fs::remove_all(root_ + "/ipam");
}

std::string TestNode::binPath(const std::string& name) const { return bin(name); }

std::string TestNode::netnsName(const std::string& suffix) const { return tag_ + "-" + suffix; }

void TestNode::writeNamespace(const std::string& name, const std::map<std::string, std::string>& labels) {
  writeFile("ns-" + name + ".yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n" + yamlLabels(labels, "  "));
}

void TestNode::writePod(const Pod& pod, const std::map<std::string, std::string>& labels) {
  std::string y = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + pod.name + "\n  namespace: " + pod.ns +
                  "\n  uid: uid-" + pod.ns + "-" + pod.name + "\n" + yamlLabels(labels, "  ") +
                  "spec:\n  serviceAccountName: " + pod.serviceAccount + "\n  nodeName: " + options_.name +
                  "\nstatus:\n  podIP: " + pod.ip + "\n";
  writeFile("pod-" + pod.ns + "-" + pod.name + ".yaml", y);
}

void TestNode::writeFile(const std::string& name, const std::string& content) {
  // Write then rename, as kubectl-like tools and editors do: the watcher sees one event.
  std::string tmp = configDir_ + "/." + name + ".tmp";
  writeText(tmp, content);
  fs::rename(tmp, configDir_ + "/" + name);
}

void TestNode::removeFile(const std::string& name) { fs::remove(configDir_ + "/" + name); }

int TestNode::cni(const std::string& command, const Pod& pod, std::string* output) {
  std::string args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + pod.ns + ";K8S_POD_NAME=" + pod.name + ";K8S_POD_UID=uid-" +
                     pod.ns + "-" + pod.name + ";IP=" + pod.ip;
  return runCommand({"nsenter", "--net=/var/run/netns/" + nodeNetns_, bin("warren-cnirun"), command, "--conflist",
                     conflist_, "--netns", pod.netnsPath(), "--container-id", pod.containerId, "--ifname", "eth0",
                     "--args", args, "--cni-path", std::string("/usr/lib/cni:") + WARREN_BIN_DIR},
                    output);
}

Pod TestNode::preparePod(const std::string& ns, const std::string& name, const std::string& ip) {
  Pod pod;
  pod.name = name;
  pod.ns = ns;
  pod.ip = ip;
  pod.serviceAccount = "sa-" + name;
  pod.netnsName = netnsName("p" + std::to_string(++podSeq_));
  pod.containerId = tag_ + "-" + ns + "-" + name;
  runCommand({"ip", "netns", "add", pod.netnsName});
  runCommand({"ip", "-n", pod.netnsName, "link", "set", "lo", "up"});
  pods_.push_back(pod);
  return pod;
}

Pod TestNode::addPod(const std::string& ns, const std::string& name, const std::string& ip,
                     const std::map<std::string, std::string>& labels, int* cniStatus, std::string* cniOutput) {
  Pod pod = preparePod(ns, name, ip);
  writePod(pod, labels);
  std::string out;
  int rc = cni("add", pod, &out);
  if (cniOutput) *cniOutput = out;
  if (cniStatus)
    *cniStatus = rc;
  else
    EXPECT_EQ(rc, 0) << "CNI ADD of " << ns << "/" << name << " failed:\n"
                     << out << "\nagent log:\n"
                     << logTail("agent");
  return pod;
}

Status TestNode::startAgent() {
  auto p = spawnAgent("agent");
  if (!p) return p.error();
  agent_ = std::move(*p);
  return okStatus();
}

Result<std::unique_ptr<Process>> TestNode::spawnAgent(const std::string& logName) {
  // The cluster from the YAML dir, or from the test's API server.
  const bool fromApi = !options_.kubeconfig.empty();
  std::vector<std::string> argv = {bin("warren-agent"),
                                   "--node",
                                   options_.name,
                                   fromApi ? "--kubeconfig" : "--config-dir",
                                   fromApi ? options_.kubeconfig : configDir_,
                                   "--bpffs",
                                   pinRoot_,
                                   "--run-dir",
                                   runDir_,
                                   "--log-level",
                                   "debug"};
  argv.insert(argv.end(), options_.agentArgs.begin(), options_.agentArgs.end());
  return Process::spawn(argv, root_ + "/" + logName + ".log", true, std::chrono::seconds(15));
}

int TestNode::stopAgent(int sig) {
  int rc = agent_ ? agent_->stop(sig) : -1;
  agent_.reset();
  return rc;
}

Status TestNode::startTunnel(bool waitReady) {
  auto p = spawnTunnel("tunnel", waitReady);
  if (!p) return p.error();
  tunnel_ = std::move(*p);
  return okStatus();
}

Result<std::unique_ptr<Process>> TestNode::spawnTunnel(const std::string& logName, bool waitReady) {
  // Its cluster state and local CA inside the test's dirs, never the host's defaults.
  // In the node netns, as a DaemonSet's hostNetwork pod runs in the node's: its
  // metrics, readiness and admin ports are the node's, never the test machine's.
  // With a kubeconfig, the tunnel too reads the cluster from the API (standalone mode).
  const bool fromApi = !options_.kubeconfig.empty();
  std::vector<std::string> argv = {"/usr/bin/nsenter",
                                   "--net=/var/run/netns/" + nodeNetns_,
                                   bin("warren-tunnel"),
                                   "--agent-socket",
                                   runDir_ + "/zds.sock",
                                   "--bpffs",
                                   pinRoot_,
                                   fromApi ? "--kubeconfig" : "--config-dir",
                                   fromApi ? options_.kubeconfig : configDir_,
                                   "--ca-dir",
                                   caDir_,
                                   "--log-level",
                                   "debug",
                                   "--admin-token-file",
                                   adminTokenFile()};
  argv.insert(argv.end(), options_.tunnelArgs.begin(), options_.tunnelArgs.end());
  return Process::spawn(argv, root_ + "/" + logName + ".log", waitReady, std::chrono::seconds(15));
}

Status TestNode::startWaypoint(const Pod& pod, const std::string& gateway, const std::vector<std::string>& extraArgs) {
  // With a kubeconfig, the waypoint too reads the cluster from the API, as the tunnel does.
  const bool fromApi = !options_.kubeconfig.empty();
  std::vector<std::string> argv = {"/usr/bin/nsenter",
                                   "--net=" + pod.netnsPath(),
                                   bin("warren-waypoint"),
                                   "--gateway",
                                   gateway,
                                   "--service-account",
                                   pod.serviceAccount,
                                   fromApi ? "--kubeconfig" : "--config-dir",
                                   fromApi ? options_.kubeconfig : configDir_,
                                   "--ca-dir",
                                   caDir_,
                                   "--log-level",
                                   "debug",
                                   "--admin-token-file",
                                   root_ + "/waypoint-" + pod.name + "-admin-token"};
  argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
  auto p = Process::spawn(argv, root_ + "/waypoint-" + pod.name + ".log", true, std::chrono::seconds(15));
  if (!p) return p.error();
  waypoint_ = std::move(*p);
  return okStatus();
}

int TestNode::stopWaypoint(int sig) {
  int rc = waypoint_ ? waypoint_->stop(sig) : -1;
  waypoint_.reset();
  return rc;
}

Status TestNode::restartTunnel(const std::vector<std::string>& extraArgs) {
  stopTunnel(SIGTERM);
  const std::vector<std::string> own = options_.tunnelArgs;
  options_.tunnelArgs.insert(options_.tunnelArgs.end(), extraArgs.begin(), extraArgs.end());
  Status st = startTunnel();
  options_.tunnelArgs = own;
  return st;
}

int TestNode::stopTunnel(int sig) {
  int rc = tunnel_ ? tunnel_->stop(sig) : -1;
  tunnel_.reset();
  return rc;
}

int TestNode::warrenctl(const std::vector<std::string>& args, std::string* output) {
  // In the node netns, as an operator on the node would run it: the tunnel's
  // admin endpoint (127.0.0.1:15000) is the node's.
  std::vector<std::string> argv = {"/usr/bin/nsenter", "--net=/var/run/netns/" + nodeNetns_,
                                   bin("warrenctl"),   "--bpffs",
                                   pinRoot_,           "--admin-token-file",
                                   adminTokenFile()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, output);
}

std::optional<TestNode::StateCounts> TestNode::tunnelState() const {
  auto r = httpRequest("/var/run/netns/" + nodeNetns_, "GET", "/config_dump", 15000);
  auto dump = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200 || dump.is_discarded() || !dump.contains("state")) return std::nullopt;
  StateCounts c;
  for (const auto& w : dump["state"].value("workloads", nlohmann::json::array())) {
    c.workloads++;
    c.captured += w.value("captured", false) ? 1 : 0;
  }
  c.services = dump["state"].value("services", nlohmann::json::array()).size();
  return c;
}

std::string TestNode::readLog(const std::string& which) const {
  std::ifstream in(root_ + "/" + which + ".log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string TestNode::logTail(const std::string& which, size_t lines) const {
  std::string all = readLog(which);
  size_t pos = all.size();
  if (pos > 0 && all[pos - 1] == '\n') --pos;  // the last line's own newline
  for (size_t n = 0; n < lines; ++n) {
    size_t nl = pos == 0 ? std::string::npos : all.rfind('\n', pos - 1);
    if (nl == std::string::npos) return all;
    pos = nl;
  }
  return all.substr(pos + 1);
}

// ---- TestCluster ------------------------------------------------------------------------

namespace {
bool mustRun(const std::vector<std::string>& argv) {
  std::string out;
  int rc = runCommand(argv, &out);
  if (rc == 0) return true;
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  ADD_FAILURE() << cmd << " exited " << rc << ":\n" << out;
  return false;
}
}  // namespace

TestCluster::TestCluster(std::vector<std::string> tunnelArgs, std::vector<std::string> agentArgs) {
  const std::string pid = std::to_string(::getpid());
  root_ = "/tmp/we2e-" + pid + "-cluster";
  configDir_ = root_ + "/config";
  fs::remove_all(root_);
  fs::create_directories(configDir_);
  for (size_t i = 0; i < kNodes; ++i) {
    NodeOptions o;
    o.name = "node" + std::to_string(i + 1);
    o.subnet = "10.244." + std::to_string(i + 1) + ".0/24";
    o.configDir = configDir_;
    o.caDir = caDir();  // one trust domain: both tunnels sign with the same local CA
    o.clusterCidr = "10.244.0.0/16";
    o.tunnelArgs = tunnelArgs;
    o.agentArgs = agentArgs;
    for (auto* args : {&o.tunnelArgs, &o.agentArgs})
      for (auto& a : *args)  // "{node}": this node's name (a per-node dir, the audit log's node)
        if (auto at = a.find("{node}"); at != std::string::npos) a.replace(at, 6, o.name);
    nodes_.push_back(std::make_unique<TestNode>(o));
    // Interface names are at most 15 bytes: "we2e" + a pid of up to 7 digits + "u1".
    underlayIf_.push_back("we2e" + pid + "u" + std::to_string(i + 1));
    underlayIp_.push_back("10.99.0." + std::to_string(i + 1));
  }
  // Made in node1's netns with its peer placed straight into node2's: never in the root netns.
  if (!mustRun({"ip", "-n", nodes_[0]->nodeNetns(), "link", "add", underlayIf_[0], "type", "veth", "peer", "name",
                underlayIf_[1], "netns", nodes_[1]->nodeNetns()}))
    return;
  for (size_t i = 0; i < kNodes; ++i) {
    const std::string& ns = nodes_[i]->nodeNetns();
    const size_t other = 1 - i;
    mustRun({"ip", "-n", ns, "addr", "add", underlayIp_[i] + "/30", "dev", underlayIf_[i]});
    mustRun({"ip", "-n", ns, "link", "set", underlayIf_[i], "up"});
    mustRun({"nsenter", "--net=/var/run/netns/" + ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"});
    mustRun({"ip", "-n", ns, "route", "add", "10.244." + std::to_string(other + 1) + ".0/24", "via", underlayIp_[other],
             "dev", underlayIf_[i]});
  }
}

Status TestCluster::start() {
  for (auto& n : nodes_) {
    if (auto st = n->startAgent(); !st)
      return makeError(n->name() + " agent: " + st.error().message + "\n" + n->logTail("agent"));
    if (auto st = n->startTunnel(); !st)
      return makeError(n->name() + " tunnel: " + st.error().message + "\n" + n->logTail("tunnel"));
  }
  return okStatus();
}

std::string TestCluster::logTails(size_t lines) const {
  std::string out;
  for (const auto& n : nodes_)
    for (const char* which : {"agent", "tunnel"})
      out += "---- " + n->name() + " " + which + " log ----\n" + n->logTail(which, lines);
  return out;
}

TestCluster::~TestCluster() {
  // The veth goes with either node netns too; removing it first keeps the nodes apart while they stop.
  if (nodes_.size() == kNodes) runCommand({"ip", "-n", nodes_[0]->nodeNetns(), "link", "del", underlayIf_[0]});
  while (!nodes_.empty()) nodes_.pop_back();
  if (!::testing::Test::HasFailure()) fs::remove_all(root_);
}

// ---- PacketCapture ----------------------------------------------------------------------

Result<std::unique_ptr<PacketCapture>> PacketCapture::start(const std::string& netnsName, const std::string& interface,
                                                            const std::string& filter) {
  static std::atomic<int> seq{0};
  std::unique_ptr<PacketCapture> cap(new PacketCapture());
  cap->dir_ = "/tmp/we2e-" + std::to_string(::getpid()) + "-cap" + std::to_string(++seq);
  fs::remove_all(cap->dir_);
  fs::create_directories(cap->dir_);
  cap->file_ = cap->dir_ + "/capture.pcap";
  // -U and --immediate-mode: each packet reaches the file as it is seen (not a
  // kernel block at a time, which SIGINT would drop); -Z root: tcpdump keeps the
  // rights to write where we ask instead of switching to its own user.
  std::vector<std::string> argv = {"nsenter", "--net=/var/run/netns/" + netnsName,
                                   "tcpdump", "-i",
                                   interface, "-U",
                                   "-n",      "-s",
                                   "0",       "-Z",
                                   "root",    "--immediate-mode",
                                   "-w",      cap->file_};
  if (!filter.empty()) argv.push_back(filter);
  auto proc = Process::spawnWatched(argv, cap->dir_ + "/tcpdump.log", "listening on", std::chrono::seconds(10));
  if (!proc) return withContext(proc.error(), "tcpdump in " + netnsName + " on " + interface);
  cap->proc_ = std::move(*proc);
  return cap;
}

// SIGINT makes tcpdump stop at once, leaving what the kernel queued for it
// unwritten. So first ask it for its counters (SIGUSR1: "N packets captured, M
// packets received by filter, K packets dropped by kernel") until it has written
// every packet the kernel handed it.
void PacketCapture::waitWritten() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (proc_->running() && std::chrono::steady_clock::now() < deadline) {
    const size_t from = proc_->output().size();
    ::kill(proc_->pid(), SIGUSR1);
    if (!proc_->waitForOutput("dropped by kernel", std::chrono::seconds(2), from)) return;
    std::istringstream words(proc_->output().substr(from));
    std::vector<unsigned long> counts;  // captured, received by filter, dropped by kernel
    std::string prev, word;
    while (words >> word && counts.size() < 3) {
      if (word.starts_with("packet") && !prev.empty() && std::isdigit(static_cast<unsigned char>(prev[0])))
        counts.push_back(std::stoul(prev));
      prev = word;
    }
    if (counts.size() == 3 && counts[0] + counts[2] >= counts[1]) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string PacketCapture::stop() {
  if (proc_ && proc_->running()) waitWritten();
  // tcpdump flushes and closes the file on SIGINT; stop() also reaps an early exit.
  if (proc_) proc_->stop(SIGINT);
  std::ifstream in(file_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string PacketCapture::log() { return proc_ ? proc_->output() : ""; }

PacketCapture::~PacketCapture() {
  if (proc_) proc_->stop(SIGINT);
  if (!::testing::Test::HasFailure()) fs::remove_all(dir_);
}

// ---- in-pod apps -----------------------------------------------------------------------

std::string sockaddrString(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &in.sin_addr, buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(ntohs(in.sin_port));
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
  inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof(buf));
  return "[" + std::string(buf) + "]:" + std::to_string(ntohs(in6.sin6_port));
}

struct PodServerState {
  std::mutex mu;
  std::vector<std::string> peers;
  std::atomic<size_t> accepted{0};
  std::thread thread;
};

std::optional<UniqueFd> listenInNetns(const std::string& netnsPath, uint16_t port, int backlog) {
  auto ns = openNetns(netnsPath);
  if (!ns) return std::nullopt;
  auto fd = socketInNetns(ns->get(), AF_INET, SOCK_STREAM);
  if (!fd) return std::nullopt;
  int one = 1;
  ::setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd->get(), backlog) != 0)
    return std::nullopt;
  return std::move(*fd);
}

std::unique_ptr<PodServer> PodServer::start(const std::string& netnsPath, uint16_t port) {
  auto fd = listenInNetns(netnsPath, port, 512);
  if (!fd) return nullptr;
  std::unique_ptr<PodServer> s(new PodServer());
  s->listener_ = std::move(*fd);
  s->wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC));
  s->state_ = std::make_unique<PodServerState>();
  s->state_->thread = std::thread([srv = s.get()] { srv->run(); });
  return s;
}

void PodServer::run() {
  // One thread per accepted connection: simple, and these are test apps.
  std::vector<std::thread> conns;
  for (;;) {
    pollfd pfds[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(pfds, 2, -1) < 0) continue;
    if (pfds[1].revents) break;
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    int c = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (c < 0) continue;
    {
      std::lock_guard lock(state_->mu);
      state_->peers.push_back(sockaddrString(peer));
    }
    state_->accepted++;
    conns.emplace_back([c] {
      char buf[65536];
      ssize_t n;
      while ((n = ::read(c, buf, sizeof(buf))) > 0)
        if (::write(c, buf, n) != n) break;
      ::close(c);
    });
  }
  for (auto& t : conns) t.join();
}

PodServer::~PodServer() {
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
  state_->thread.join();
}

std::vector<std::string> PodServer::peers() {
  std::lock_guard lock(state_->mu);
  return state_->peers;
}

size_t PodServer::accepted() { return state_->accepted.load(); }

HttpReply httpRequest(const std::string& netnsPath, const std::string& method, const std::string& target, uint16_t port,
                      const std::string& headers) {
  HttpReply r;
  const std::string request = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" +
                              headers + "Content-Length: 0\r\n\r\n";
  auto ns = openNetns(netnsPath);
  if (!ns) return r;
  auto fd = socketInNetns(ns->get(), AF_INET, SOCK_STREAM);
  if (!fd) return r;
  timeval tv{5, 0};
  ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd->get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return r;
  if (::write(fd->get(), request.data(), request.size()) != static_cast<ssize_t>(request.size())) return r;
  std::string raw;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd->get(), buf, sizeof(buf))) > 0) raw.append(buf, n);
  auto headEnd = raw.find("\r\n\r\n");
  if (raw.compare(0, 9, "HTTP/1.1 ") != 0 || headEnd == std::string::npos) return r;
  r.status = std::atoi(raw.c_str() + 9);
  r.body = raw.substr(headEnd + 4);
  return r;
}

std::optional<double> tunnelMetric(const TestNode& node, const std::string& name) {
  HttpReply r = httpRequest("/var/run/netns/" + node.nodeNetns(), "GET", "/metrics", 15020);
  if (r.status != 200) return std::nullopt;
  size_t at = r.body.find("\n" + name + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(r.body.substr(at + name.size() + 2));
}

ConnectResult connectFrom(const std::string& netnsPath, const std::string& ip, uint16_t port,
                          const std::string& payload, std::chrono::milliseconds timeout) {
  ConnectResult r;
  auto ns = openNetns(netnsPath);
  if (!ns) {
    r.error = ns.error().code;
    return r;
  }
  auto fd = socketInNetns(ns->get(), AF_INET, SOCK_STREAM);
  if (!fd) {
    r.error = fd.error().code;
    return r;
  }
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd->get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (::connect(fd->get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    r.error = errno;
    return r;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&ss), &len);
  r.local = sockaddrString(ss);
  len = sizeof(ss);
  ::getpeername(fd->get(), reinterpret_cast<sockaddr*>(&ss), &len);
  r.peer = sockaddrString(ss);
  if (::write(fd->get(), payload.data(), payload.size()) != static_cast<ssize_t>(payload.size())) {
    r.error = errno;
    return r;
  }
  while (r.reply.size() < payload.size()) {
    char buf[4096];
    ssize_t n = ::read(fd->get(), buf, sizeof(buf));
    if (n < 0) {
      r.error = errno;
      break;
    }
    if (n == 0) {
      if (r.reply.empty()) r.error = ECONNRESET;
      break;
    }
    r.reply.append(buf, n);
  }
  return r;
}

// ---- maps -------------------------------------------------------------------------------

namespace {
UniqueFd openMap(const std::string& pinRoot, const char* name) {
  return UniqueFd(bpf_obj_get((pinRoot + "/" + name).c_str()));
}
}  // namespace

size_t mapEntryCount(const std::string& pinRoot, const char* mapName) {
  UniqueFd fd = openMap(pinRoot, mapName);
  if (!fd) return 0;
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  bpf_obj_get_info_by_fd(fd.get(), &info, &len);
  std::vector<uint8_t> key(info.key_size), next(info.key_size);
  size_t n = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd.get(), prev, next.data()) == 0) {
    ++n;
    key = next;
    prev = key.data();
  }
  return n;
}

bool isEnrolled(const std::string& pinRoot, const std::string& netnsPath) {
  auto ns = openNetns(netnsPath);
  if (!ns) return false;
  auto cookie = netnsCookie(ns->get());
  UniqueFd fd = openMap(pinRoot, WARREN_MAP_ENROLLED);
  warren_pod value{};
  return cookie && fd && bpf_map_lookup_elem(fd.get(), &*cookie, &value) == 0;
}

PodCounters podCounters(const std::string& pinRoot, const std::string& netnsPath) {
  PodCounters out;
  auto ns = openNetns(netnsPath);
  if (!ns) return out;
  auto cookie = netnsCookie(ns->get());
  UniqueFd fd = openMap(pinRoot, WARREN_MAP_COUNTERS);
  if (!cookie || !fd) return out;
  std::vector<warren_counters> per(libbpf_num_possible_cpus());
  if (bpf_map_lookup_elem(fd.get(), &*cookie, per.data()) != 0) return out;
  const warren_counters sum = ctl::sumCounters(per);  // warrenctl's own summing
  return {sum.captured_out, sum.captured_in, sum.passed, sum.failed_closed, sum.quota_refused, sum.udp_sends};
}

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

size_t openFdCount(pid_t pid) {
  size_t n = 0;
  std::error_code ec;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) ++n;
  return n;
}

std::vector<nlohmann::json> accessLog(const TestNode& node) {
  std::vector<nlohmann::json> out;
  std::string log = node.readLog("tunnel");
  size_t pos = 0;
  while ((pos = log.find("access {", pos)) != std::string::npos) {
    size_t end = log.find('\n', pos);
    auto j = nlohmann::json::parse(log.substr(pos + 7, end - pos - 7), nullptr, false);
    if (!j.is_discarded()) out.push_back(j);
    pos = end;
  }
  return out;
}

}  // namespace warren::e2e
