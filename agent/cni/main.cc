// warren-cni: a chained CNI plugin (spec 1.0.0). It runs after the plugins that
// give the pod its interface (bridge + host-local, Calico, ...), tells
// warren-agent the pod's netns and IPs, and passes prevResult through unchanged.
//
// Fail closed: if the agent refuses (it cannot capture a pod that belongs to the
// mesh: not in the cluster view, addresses that disagree, no tunnel ack), or
// cannot be reached and the pod's namespace may be captured (capture_scope.h),
// ADD fails with CNI error 11 ("try again later") and the runtime retries; a pod
// of a mesh-enabled namespace must never start with its traffic uncaptured, and
// the pods of other namespaces start even while the agent is away. The
// configuration's alwaysPass namespaces (kube-system) are never refused. Pods
// without Kubernetes arguments are passed through.
// DEL always succeeds (the agent reconciles).

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/cni/capture_scope.h"
#include "agent/cni/cni_protocol.h"
#include "agent/cni/net_conf.h"
#include "common/file_io.h"

namespace {

using nlohmann::json;
using namespace warren::cni;

int fail(int code, const std::string& msg, const std::string& details = "") {
  std::cout << json{{"cniVersion", "1.0.0"}, {"code", code}, {"msg", msg}, {"details", details}}.dump() << "\n";
  return 1;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::map<std::string, std::string> parseCniArgs(const std::string& args) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= args.size()) {
    size_t end = args.find(';', start);
    std::string kv = args.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (auto eq = kv.find('='); eq != std::string::npos) out[kv.substr(0, eq)] = kv.substr(eq + 1);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

}  // namespace

static int run() {
  const std::string command = env("CNI_COMMAND");
  if (command == "VERSION") {
    std::cout << R"({"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]})"
              << "\n";
    return 0;
  }
  if (command != "ADD" && command != "DEL" && command != "CHECK")
    return fail(kInvalidEnv, "CNI_COMMAND must be ADD, DEL, CHECK or VERSION, not '" + command + "'");

  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto conf = parseNetConf(input);
  if (!conf) return fail(conf.error().code, conf.error().message);
  const std::string& socket = conf->agentSocket;
  const auto timeout = conf->timeout;

  auto args = parseCniArgs(env("CNI_ARGS"));
  CniPodRequest req;
  req.command = command;
  req.containerId = env("CNI_CONTAINERID");
  req.netns = env("CNI_NETNS");
  req.ifName = env("CNI_IFNAME");
  req.podName = args["K8S_POD_NAME"];
  req.podNamespace = args["K8S_POD_NAMESPACE"];
  req.podUid = args["K8S_POD_UID"];
  const bool isPod = !req.podName.empty() && !req.podNamespace.empty();
  if (req.containerId.empty()) return fail(kInvalidEnv, "CNI_CONTAINERID is not set");

  if (command == "DEL") {
    if (isPod) (void)sendCniRequest(socket, req, timeout);  // best effort: DEL must succeed
    return 0;
  }

  const json& prev = conf->prevResult;
  if (command == "ADD") {
    if (req.netns.empty()) return fail(kInvalidEnv, "CNI_NETNS is not set: warren-cni needs the pod's netns");
    if (!prev.is_object())
      return fail(kInvalidConfig, "warren-cni is a chained plugin: it needs prevResult from the plugins before it");
    req.ips = conf->podIps;
    if (!isPod) {  // not a Kubernetes pod: nothing to enroll
      std::cout << prev.dump() << "\n";
      return 0;
    }
  } else if (!isPod) {
    return 0;  // CHECK of a non-pod
  }

  auto reply = sendCniRequest(socket, req, timeout);
  if (!reply) {
    const std::string dir = socket.substr(0, socket.rfind('/') + 1);
    const std::string scopeFile =
        conf->captureScopeFile.empty() ? dir + std::string(kCaptureScopeFile) : conf->captureScopeFile;
    auto text = warren::readFile(scopeFile);
    auto without =
        decideWithoutAgent(req.podNamespace, text ? parseCaptureScope(*text) : std::nullopt, conf->alwaysPass);
    if (!without.passThrough)
      return fail(kTryAgainLater, "warren-agent is not reachable: " + reply.error().message + "; " + without.reason,
                  socket);
    if (command == "ADD") std::cout << prev.dump() << "\n";
    return 0;
  }
  if (!reply->ok) {
    // The namespaces the configuration always passes (kube-system: DNS, the
    // CNI itself, perhaps what runs Warren) are never held up by Warren.
    if (!conf->alwaysPass.count(req.podNamespace))
      return fail(kTryAgainLater, "warren-agent refused the pod: " + reply->error, socket);
    std::cerr << "warren-cni: namespace " << req.podNamespace
              << " is always passed; warren-agent refused the pod: " << reply->error << "\n";
  }
  if (command == "ADD") std::cout << prev.dump() << "\n";
  return 0;
}

int main() {
  // The configuration is read without exceptions (net_conf.h); this is the last
  // guard, so that even a bug answers the runtime with a CNI error, not an abort.
  try {
    return run();
  } catch (const std::exception& e) {
    return fail(999, std::string("BUG: warren-cni failed: ") + e.what());
  }
}
