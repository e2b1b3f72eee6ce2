#include "tools/bench/conn_rate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "common/netns.h"
#include "tests/support/cluster.h"
#include "tools/bench/echo_io.h"

namespace warren::bench {

std::unique_ptr<RateEchoServer> RateEchoServer::start(const std::string& netnsPath, uint16_t port, int threads) {
  auto fd = e2e::listenInNetns(netnsPath, port, 4096);
  if (!fd) return nullptr;
  std::unique_ptr<RateEchoServer> s(new RateEchoServer());
  s->listener_ = std::move(*fd);
  for (int i = 0; i < threads; ++i)
    s->threads_.emplace_back([l = s->listener_.get()] {
      for (;;) {
        int c = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          return;  // the listener was shut down: the server is stopping
        }
        char buf[kEchoBytes];
        if (readFull(c, buf, sizeof(buf))) (void)!::write(c, buf, sizeof(buf));
        // Wait for the client's close, so that the client (not this end) holds TIME_WAIT.
        while (::read(c, buf, sizeof(buf)) > 0) {
        }
        ::close(c);
      }
    });
  return s;
}

RateEchoServer::~RateEchoServer() {
  ::shutdown(listener_.get(), SHUT_RDWR);  // wakes every accept4 with an error
  for (auto& t : threads_) t.join();
}

RateResult connectionRate(const std::string& netnsPath, const std::string& ip, uint16_t port, int threads,
                          double seconds) {
  std::atomic<uint64_t> ok{0}, failed{0};
  const auto start = std::chrono::steady_clock::now();
  const auto until =
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> clients;
  for (int i = 0; i < threads; ++i)
    clients.emplace_back([&] {
      // This thread stays in the pod's netns: a socket costs no setns(2).
      auto ns = openNetns(netnsPath);
      auto in = ns ? ScopedNetns::enter(ns->get()) : Result<ScopedNetns>(ns.error());
      if (!in) {
        failed++;
        return;
      }
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
      const char msg[kEchoBytes] = {'c'};
      char buf[kEchoBytes];
      while (std::chrono::steady_clock::now() < until) {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) {
          failed++;
          continue;
        }
        int one = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        bool good = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                    ::write(fd.get(), msg, sizeof(msg)) == static_cast<ssize_t>(sizeof(msg)) &&
                    readFull(fd.get(), buf, sizeof(buf)) && std::memcmp(buf, msg, sizeof(msg)) == 0;
        (good ? ok : failed)++;
      }
    });
  for (auto& t : clients) t.join();
  RateResult r;
  r.connections = ok;
  r.failures = failed;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace warren::bench
