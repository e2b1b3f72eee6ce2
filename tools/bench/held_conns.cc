#include "tools/bench/held_conns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "common/netns.h"
#include "io/accept.h"
#include "tests/support/cluster.h"
#include "tools/bench/echo_io.h"

namespace warren::bench {

std::unique_ptr<HoldServer> HoldServer::start(const std::string& netnsPath, uint16_t port) {
  auto fd = e2e::listenInNetns(netnsPath, port, 4096);
  if (!fd) return nullptr;
  std::unique_ptr<HoldServer> s(new HoldServer());
  s->listener_ = std::move(*fd);
  s->thread_ = std::thread([s = s.get()] {
    for (;;) {
      UniqueFd c(::accept4(s->listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // the listener was shut down: the server is stopping
      }
      // A client that never sends must not stall the others behind it.
      timeval timeout{5, 0};
      ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      char buf[kEchoBytes];
      if (!readFull(c.get(), buf, sizeof(buf)) || ::write(c.get(), buf, sizeof(buf)) != ssize_t(sizeof(buf))) continue;
      s->conns_.push_back(std::move(c));
      s->held_ = s->conns_.size();
    }
  });
  return s;
}

HoldServer::~HoldServer() {
  ::shutdown(listener_.get(), SHUT_RDWR);  // wakes accept4 with an error
  thread_.join();
}

HeldConnections holdConnections(const std::vector<std::string>& sources, const std::string& ip, uint16_t port,
                                size_t perSource) {
  HeldConnections out;
  std::mutex mu;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (const auto& netnsPath : sources)
    clients.emplace_back([&, netnsPath] {
      std::vector<UniqueFd> mine;
      uint64_t failed = 0;
      // This thread stays in the pod's netns: a socket costs no setns(2).
      auto ns = openNetns(netnsPath);
      auto in = ns ? ScopedNetns::enter(ns->get()) : Result<ScopedNetns>(ns.error());
      if (!in) failed = perSource;
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
      const char msg[kEchoBytes] = {'h'};
      char buf[kEchoBytes];
      for (size_t i = 0; in && i < perSource; ++i) {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        timeval timeout{5, 0};
        if (fd) ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        const bool good = fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                          ::write(fd.get(), msg, sizeof(msg)) == static_cast<ssize_t>(sizeof(msg)) &&
                          readFull(fd.get(), buf, sizeof(buf)) && std::memcmp(buf, msg, sizeof(msg)) == 0;
        if (good)
          mine.push_back(std::move(fd));
        else
          failed++;
      }
      std::lock_guard lock(mu);
      for (auto& fd : mine) out.fds.push_back(std::move(fd));
      out.failures += failed;
    });
  for (auto& t : clients) t.join();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

int serveHeld(const std::string& netnsPath, uint16_t port) {
  io::raiseFileLimit();
  auto server = HoldServer::start(netnsPath, port);
  if (!server) {
    std::fprintf(stderr, "cannot listen on %u in %s\n", static_cast<unsigned>(port), netnsPath.c_str());
    return 1;
  }
  std::printf("holding on %u\n", static_cast<unsigned>(port));
  std::fflush(stdout);
  for (;;) ::pause();  // until the bench stops this process
}

}  // namespace warren::bench
