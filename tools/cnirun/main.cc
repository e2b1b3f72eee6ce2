// warren-cnirun: runs a CNI conflist the way a container runtime (libcni) does,
// so tests and the demo exercise the real plugins faithfully:
//   warren-cnirun add|del|check --conflist FILE --netns PATH --container-id ID
//                 [--ifname eth0] [--args 'K=V;K2=V2'] [--cni-path DIR:DIR]
// ADD runs the plugins in order, chaining each result into the next plugin's
// prevResult, and caches the final result for DEL/CHECK; DEL runs them in reverse.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct Options {
  std::string command, conflist, netns, containerId, ifname = "eth0", args, cniPath = "/usr/lib/cni";
};

struct PluginRun {
  int status = -1;
  std::string out;
};

std::string findPlugin(const std::string& type, const std::string& cniPath) {
  std::stringstream dirs(cniPath);
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && ::access((dir + "/" + type).c_str(), X_OK) == 0) return dir + "/" + type;
  return "";
}

// Executes one plugin with the CNI environment, config on stdin, result from stdout.
PluginRun execPlugin(const std::string& path, const Options& o, const std::string& command, const std::string& conf) {
  int in[2], out[2];
  if (::pipe(in) != 0 || ::pipe(out) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::close(in[1]);
    ::close(out[0]);
    ::setenv("CNI_COMMAND", command.c_str(), 1);
    ::setenv("CNI_CONTAINERID", o.containerId.c_str(), 1);
    ::setenv("CNI_NETNS", o.netns.c_str(), 1);
    ::setenv("CNI_IFNAME", o.ifname.c_str(), 1);
    ::setenv("CNI_ARGS", o.args.c_str(), 1);
    ::setenv("CNI_PATH", o.cniPath.c_str(), 1);
    ::execl(path.c_str(), path.c_str(), nullptr);
    _exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  (void)!::write(in[1], conf.data(), conf.size());
  ::close(in[1]);
  PluginRun r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof(buf))) > 0) r.out.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return r;
}

int usage() {
  std::cerr << "usage: warren-cnirun add|del|check --conflist FILE --netns PATH --container-id ID"
               " [--ifname eth0] [--args 'K=V;..'] [--cni-path DIR:DIR]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 2) return usage();
  o.command = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--conflist")
      o.conflist = v;
    else if (k == "--netns")
      o.netns = v;
    else if (k == "--container-id")
      o.containerId = v;
    else if (k == "--ifname")
      o.ifname = v;
    else if (k == "--args")
      o.args = v;
    else if (k == "--cni-path")
      o.cniPath = v;
    else
      return usage();
  }
  std::string cmd = o.command == "add" ? "ADD" : o.command == "del" ? "DEL" : o.command == "check" ? "CHECK" : "";
  if (cmd.empty() || o.conflist.empty() || o.netns.empty() || o.containerId.empty()) return usage();

  std::ifstream f(o.conflist);
  json list = json::parse(f, nullptr, false);
  if (list.is_discarded() || !list.contains("plugins") || !list["plugins"].is_array()) {
    std::cerr << "warren-cnirun: " << o.conflist << " is not a CNI conflist\n";
    return 1;
  }
  // The cached ADD result is DEL's and CHECK's prevResult, as libcni keeps it.
  fs::path cacheDir = fs::path(o.conflist).parent_path() / "cnirun-cache";
  fs::path cache = cacheDir / (o.containerId + ".json");
  json prev;
  if (cmd != "ADD") {
    std::ifstream c(cache);
    if (c) prev = json::parse(c, nullptr, false);
    if (prev.is_discarded()) prev = json();
  }

  std::vector<json> plugins = list["plugins"].get<std::vector<json>>();
  if (cmd == "DEL") std::reverse(plugins.begin(), plugins.end());
  int rc = 0;
  for (auto conf : plugins) {
    conf["name"] = list.value("name", "");
    conf["cniVersion"] = list.value("cniVersion", "1.0.0");
    if (!prev.is_null()) conf["prevResult"] = prev;
    const std::string type = conf.value("type", "");
    std::string path = findPlugin(type, o.cniPath);
    if (path.empty()) {
      std::cerr << "warren-cnirun: plugin '" << type << "' not found in " << o.cniPath << "\n";
      if (cmd == "DEL") continue;
      return 1;
    }
    PluginRun r = execPlugin(path, o, cmd, conf.dump());
    if (r.status != 0) {
      std::cerr << "warren-cnirun: plugin " << type << " failed " << cmd << ": " << r.out << "\n";
      rc = 1;
      if (cmd == "DEL") continue;  // DEL goes on: leave as little behind as possible
      std::cout << r.out;
      return 1;
    }
    if (cmd == "ADD") {
      json result = json::parse(r.out, nullptr, false);
      if (result.is_discarded()) {
        std::cerr << "warren-cnirun: plugin " << type << " printed no JSON result\n";
        return 1;
      }
      prev = result;
    }
  }
  if (cmd == "ADD") {
    fs::create_directories(cacheDir);
    std::ofstream(cache) << prev.dump();
    std::cout << prev.dump(2) << "\n";
  } else if (cmd == "DEL") {
    fs::remove(cache);
  }
  return rc;
}
