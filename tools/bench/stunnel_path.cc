#include "tools/bench/stunnel_path.h"

#include <chrono>
#include <filesystem>
#include <fstream>

namespace warren::bench {

namespace {

using namespace std::chrono_literals;

Status run(const std::vector<std::string>& argv) {
  std::string out;
  if (e2e::runCommand(argv, &out) != 0) return makeError(argv[0] + " " + argv[1] + ": " + out.substr(0, 300));
  return okStatus();
}

// A P-256 key and a certificate for `cn` signed by the CA in dir (or the CA itself).
Status makeCert(const std::string& dir, const std::string& name, bool ca) {
  const std::string key = dir + "/" + name + ".key", crt = dir + "/" + name + ".pem";
  if (auto st = run({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key}); !st) return st;
  if (ca)
    return run({"openssl", "req", "-x509", "-new", "-key", key, "-subj", "/CN=bench-ca", "-days", "2", "-out", crt,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"});
  const std::string csr = dir + "/" + name + ".csr";
  if (auto st = run({"openssl", "req", "-new", "-key", key, "-subj", "/CN=" + name, "-out", csr}); !st) return st;
  return run({"openssl", "x509", "-req", "-in", csr, "-CA", dir + "/ca.pem", "-CAkey", dir + "/ca.key",
              "-CAcreateserial", "-days", "2", "-out", crt});
}

Result<std::unique_ptr<e2e::Process>> startOne(const std::string& dir, const std::string& side, const e2e::Pod& pod,
                                               const std::string& serverIp, const std::vector<uint16_t>& ports) {
  const bool client = side == "client";
  const std::string conf = dir + "/" + side + ".conf";
  {
    std::ofstream f(conf);
    // Foreground so that the pid we hold is stunnel's (nsenter execs it), and its
    // readiness line reaches our pipe. No pid file: nothing is left behind.
    f << "foreground = yes\npid =\ndebug = notice\n";
    for (uint16_t p : ports) {
      f << "[" << side << p << "]\n";
      if (client) {
        f << "client = yes\naccept = 127.0.0.1:" << stunnelFrontPort(p) << "\nconnect = " << serverIp << ":"
          << stunnelBackPort(p) << "\n";
      } else {
        f << "accept = " << serverIp << ":" << stunnelBackPort(p) << "\nconnect = 127.0.0.1:" << p << "\n";
      }
      f << "cert = " << dir << "/" << side << ".pem\nkey = " << dir << "/" << side << ".key\nCAfile = " << dir
        << "/ca.pem\nverifyChain = yes\nrequireCert = yes\nsslVersionMin = TLSv1.3\n"
        << "socket = l:TCP_NODELAY=1\nsocket = r:TCP_NODELAY=1\n";
    }
  }
  return e2e::Process::spawnWatched({"nsenter", "--net=" + pod.netnsPath(), "stunnel", conf},
                                    dir + "/stunnel-" + side + ".log", "Configuration successful", 10s);
}

}  // namespace

Result<StunnelPath> startStunnelPath(const std::string& dir, const e2e::Pod& clientPod, const e2e::Pod& serverPod,
                                     const std::vector<uint16_t>& appPorts) {
  std::filesystem::create_directories(dir);
  for (auto [name, ca] : {std::pair{"ca", true}, {"client", false}, {"server", false}})
    if (auto st = makeCert(dir, name, ca); !st) return st.error();
  StunnelPath path;
  auto server = startOne(dir, "server", serverPod, serverPod.ip, appPorts);
  if (!server) return server.error();
  path.server = std::move(*server);
  auto client = startOne(dir, "client", clientPod, serverPod.ip, appPorts);
  if (!client) return client.error();
  path.client = std::move(*client);
  return path;
}

}  // namespace warren::bench
