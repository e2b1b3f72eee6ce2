// The waypoint's HTTP/2 server side: the real H2Session (waypoint/proxy/h2_session.h),
// started as the waypoint starts it for an h2c stream inside HBONE, with its
// nghttp2 options and settings, fed a client's bytes after the connection preface.
// The host around it is a fake: the waypoint e2e suites' cluster (GET /balance/*
// from sa-checkout allowed to payments/ledger), HTTP/1.1 upstreams that answer one
// canned response, HTTP/2 (gRPC) upstreams that cannot be reached, and byte
// streams in memory driven the way the event loop drives sockets.
// Input: byte 0 bit 0 picks the destination (ledger:80, HTTP/1.1 upstream, or
// ledger-grpc:9090, HTTP/2 upstream), its other bits how many client bytes come
// with the preface in the session's first read; byte 1 the size of later reads;
// then the client's bytes. Invariant: no crash, leak or hang (every round makes
// progress or the session is done).
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "io/event_loop.h"
#include "io/tcp.h"
#include "source/yaml_source.h"
#include "state/from_snapshot.h"
#include "tests/fuzz/fuzz_entries.h"
#include "tests/support/payments_waypoint_cluster.h"
#include "waypoint/proxy/h2_session.h"
#include "waypoint/proxy/h2_upstream_pool.h"

namespace warren::fuzz {
namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// The waypoint e2e suites' payments cluster (Gateway, ledger:80 over HTTP/1.1,
// ALLOW GET /balance/* from sa-checkout, DENY POST /admin/*), plus what those
// suites' test cluster adds: the namespace, the pods, and a gRPC port.
const char* kPods = R"(
apiVersion: v1
kind: Namespace
metadata: {name: payments, labels: {warren.io/mode: enabled, istio.io/use-waypoint: waypoint}}
---
apiVersion: v1
kind: Service
metadata: {name: ledger-grpc, namespace: payments}
spec: {clusterIP: 10.96.0.21, selector: {app: ledger}, ports: [{name: grpc-api, port: 9090, targetPort: 19090}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ledger, namespace: payments, labels: {app: ledger}}
spec: {serviceAccountName: ledger}
status: {podIP: 10.244.2.20}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-0, namespace: payments, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint}
status: {podIP: 10.244.1.50}
)";

state::ClusterStatePtr cluster() {
  static const state::ClusterStatePtr st = [] {
    source::Snapshot snap;
    source::loadDocuments(e2e::kWaypointCluster, "payments.yaml", snap);
    source::loadDocuments(kPods, "pods.yaml", snap);
    FUZZ_CHECK(snap.errors.empty());
    return state::stateFromSnapshot(snap, {});
  }();
  return st;
}

// A byte stream in memory with socket semantics: reads hand out `input` in
// pieces of `piece` bytes, then EAGAIN (or 0 once `eof`); sends are taken whole.
// Its watch state sits in a shared Port the driver holds, so a stream the
// session destroys simply stops being driven.
struct Port {
  std::string input;
  size_t offset = 0, piece = 1;
  bool eof = false;
  uint32_t events = 0;
  io::ByteStream::Callback cb;
  bool readable() const { return offset < input.size() || eof; }
};

class MemStream final : public io::ByteStream {
 public:
  explicit MemStream(std::shared_ptr<Port> port) : port_(std::move(port)) {}
  ~MemStream() override { unwatch(); }
  Status watch(uint32_t events, Callback cb) override {
    port_->events = events;
    port_->cb = std::move(cb);
    return okStatus();
  }
  Status modify(uint32_t events) override {
    port_->events = events;
    return okStatus();
  }
  void unwatch() override {
    port_->events = 0;
    port_->cb = nullptr;
  }
  ssize_t read(void* buf, size_t len) override {
    Port& p = *port_;
    if (p.offset == p.input.size()) {
      if (p.eof) return 0;
      errno = EAGAIN;
      return -1;
    }
    const size_t n = std::min({len, p.piece, p.input.size() - p.offset});
    std::copy_n(p.input.data() + p.offset, n, static_cast<char*>(buf));
    p.offset += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t send(const void*, size_t len) override { return static_cast<ssize_t>(len); }
  void shutdownWrite() override {}
  void resetOnClose() override {}

 private:
  std::shared_ptr<Port> port_;
};

class FuzzHost final : public waypoint::SessionHost {
 public:
  explicit FuzzHost(io::EventLoop& loop)
      : loop_(loop), self_(waypoint::makeSelf("payments", "waypoint", "cluster.local")) {}
  io::EventLoop& loop() override { return loop_; }
  state::ClusterStatePtr currentState() override { return cluster(); }
  const waypoint::Self& self() const override { return self_; }
  uint64_t nextPick(const sockaddr_storage&) override { return picks_++; }
  void openUpstream(const proxy::OutboundRoute& route, std::function<void(Result<io::ByteStreamPtr>)> done) override {
    // ledger:80 speaks HTTP/1.1 and answers once; the gRPC port is unreachable.
    const bool http1 = route.authority.ends_with(":8080") || route.authority.ends_with(":80");
    loop_.post([this, http1, done = std::move(done)] {
      if (!http1) return done(makeError("fuzz: upstream unreachable"));
      auto port = std::make_shared<Port>();
      port->input = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-upstream: ledger\r\n\r\nhello";
      port->piece = 7;
      ports_.push_back(port);
      done(io::ByteStreamPtr(new MemStream(port)));
    });
  }
  void requestDone(const waypoint::RequestOutcome& outcome) override {
    FUZZ_CHECK(outcome.status == 0 || (outcome.status >= 100 && outcome.status <= 599));
  }
  std::shared_ptr<const jwt::KeySet> jwks(const std::string&) override { return nullptr; }
  void refreshJwks(const std::string&, std::chrono::milliseconds, std::function<void()> done) override {
    loop_.post(std::move(done));
  }
  void sessionClosed(uint64_t) override { closed = true; }
  waypoint::H2UpstreamPool& h2Pool() override { return h2Pool_; }

  std::vector<std::weak_ptr<Port>> ports_;
  bool closed = false;

 private:
  io::EventLoop& loop_;
  waypoint::Self self_;
  uint64_t picks_ = 0;
  waypoint::SessionOptions poolOptions_{};
  waypoint::H2UpstreamPool h2Pool_{*this, poolOptions_, "fuzz"};  // last: closed first
};

// One round of level-triggered readiness, as epoll would report it: EPOLLOUT
// always (sends never block), EPOLLIN while there are bytes or an end to read.
bool driveRound(FuzzHost& host) {
  bool any = false;
  std::erase_if(host.ports_, [](const auto& w) { return w.expired(); });
  for (size_t i = 0; i < host.ports_.size(); ++i) {
    auto port = host.ports_[i].lock();
    if (!port || !port->cb) continue;
    uint32_t ready = EPOLLOUT;
    if (port->readable()) ready |= EPOLLIN;
    if (port->eof && port->offset == port->input.size()) ready |= EPOLLHUP;
    const uint32_t ev = ready & (port->events | EPOLLHUP);
    if (!ev) continue;
    const size_t before = port->offset;
    auto cb = port->cb;  // the callback may unwatch (and so destroy) the stored one
    cb(ev);
    any = any || port->offset != before || (ev & EPOLLIN);
  }
  return any;
}

}  // namespace

int h2ServerEntry(const uint8_t* data, size_t size) {
  // The session logs each failed upstream: quiet, or the log is the fuzzer's bottleneck.
  static const bool quiet = (spdlog::set_level(spdlog::level::off), true);
  (void)quiet;
  if (size < 2) return 0;
  const bool grpc = data[0] & 1;
  const size_t withPreface = data[0] >> 1;
  const size_t piece = size_t(data[1]) + 1;
  const std::string_view client(reinterpret_cast<const char*>(data + 2), size - 2);

  auto loop = io::EventLoop::create();
  FUZZ_CHECK(loop.ok());
  FuzzHost host(**loop);
  waypoint::StreamFacts facts;
  facts.peerIp = "10.244.3.7";
  facts.peerIdentity = identity::SpiffeId{"cluster.local", "payments", "sa-checkout"};
  facts.destination = *io::parseHostPort(grpc ? "10.96.0.21:9090" : "10.96.0.20:80");

  const size_t first = std::min(withPreface, client.size());
  auto down = std::make_shared<Port>();
  down->input = std::string(client.substr(first));
  down->piece = piece;
  host.ports_.push_back(down);
  waypoint::SessionOptions options;
  options.h2MaxConcurrentStreams = 16;  // as configured, smaller: more limits reached per input
  auto session = waypoint::H2Session::start(host, 1, facts, io::ByteStreamPtr(new MemStream(down)), options,
                                            std::string(kPreface) + std::string(client.substr(0, first)));
  // Rounds until the session is done; the client closes once nothing moves (so
  // the answers to what it sent come first). The bound turns a session that
  // never finishes with its input into a finding.
  const size_t maxRounds = 4 * client.size() + 1024;
  for (size_t round = 0; !host.closed; ++round) {
    FUZZ_CHECK(round < maxRounds);
    (*loop)->runOnce(std::chrono::milliseconds(0));
    if (driveRound(host)) continue;
    if (down->offset < down->input.size()) continue;
    if (down->eof) break;
    down->eof = true;
  }
  session->abort();
  (*loop)->runOnce(std::chrono::milliseconds(0));
  session.reset();
  return 0;
}

}  // namespace warren::fuzz
