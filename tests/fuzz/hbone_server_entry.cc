// The HBONE server as the tunnel runs it on a pod's port 15008: the real
// H2Connection (server role, the tunnel's H2Options with smaller limits so that
// more of them are reached per input) over a transport in memory (mem_transport.h)
// instead of TLS, fed a client's bytes through nghttp2_session_mem_recv. The host
// around it is a fake with the tunnel's decisions and no real dials: each request
// is judged by judgeConnectRequest for a pod at 10.244.2.20 (400 when refused),
// then "dialed": answered at once or after some loop rounds with a cancel handler
// (as the tunnel's dial), 503 for port 81, else 200 with an in-process app
// (stream_channel.h) that reads everything and answers "hello".
// Input: byte 0 bit 0: the harness sends the connection preface first (else the
// input must bring its own); bit 1: dials are answered at once; bits 2-7: rounds a
// dial takes. Byte 1: bytes per arrival, 1-128 below 128, else (byte 1 - 127) KiB
// (floods need big bursts). Then the client's bytes.
// Invariants: no crash, leak or hang; onRequest once per odd stream id, within the
// header limits; the server's HEADERS 200 and DATA only on streams the host
// bridged; no stream processed above a GOAWAY's last stream id; a GOAWAY on the
// wire after a protocol error (given a valid preface); every dial answered or
// cancelled, every answered stream's onDone exactly once, and no stream left
// when the connection is closed.
#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "hbone/connect_request.h"
#include "hbone/h2_connection.h"
#include "hbone/stream_channel.h"
#include "io/event_loop.h"
#include "io/tcp.h"
#include "tests/fuzz/fuzz_entries.h"
#include "tests/fuzz/mem_transport.h"

namespace warren::fuzz {
namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const std::vector<std::string> kPodIps = {"10.244.2.20"};

hbone::H2Options fuzzOptions() {
  hbone::H2Options o;
  o.maxConcurrentStreams = 8;
  o.streamWindow = 64u << 10;
  o.connectionWindow = 256u << 10;
  o.sendBufferBytes = 16u << 10;
  o.maxHeaderListBytes = 4096;
  o.resetBurst = 16;
  o.resetRatePerSecond = 1;
  return o;
}

// The app behind a bridged stream: reads until its end, answers "hello" and ends.
struct App {
  std::unique_ptr<hbone::ChannelSocket> sock;
  bool ended = false;
};

struct Host {
  io::EventLoop* loop = nullptr;
  std::shared_ptr<MemWire> wire;
  hbone::H2Options options;
  bool answerAtOnce = false;
  size_t dialRounds = 0;

  struct Dial {
    int32_t id;
    int status;
    size_t dueRound;
  };
  std::vector<Dial> dials;                               // awaiting their answer
  std::set<int32_t> requested, bridged;                  // onRequest seen; answered 200 with an app
  std::vector<std::pair<int32_t, size_t>> requestOrder;  // id, output bytes before it
  std::set<int32_t> cancelled;
  std::map<int32_t, int> done;  // onDone calls per answered stream
  std::set<int32_t> answered;
  std::vector<std::unique_ptr<App>> apps;
  bool closed = false;
  size_t round = 0;

  void onRequest(hbone::H2Connection& c, int32_t id, const hbone::Headers& req) {
    FUZZ_CHECK(!closed);
    FUZZ_CHECK(id > 0 && id % 2 == 1);
    FUZZ_CHECK(requested.insert(id).second);
    requestOrder.emplace_back(id, wire->out.size());
    size_t bytes = 0;
    for (const auto& [n, v] : req) bytes += n.size() + v.size() + 32;
    FUZZ_CHECK(req.size() <= 64 && bytes <= options.maxHeaderListBytes);
    const auto verdict = hbone::judgeConnectRequest(req, kPodIps);
    if (verdict.status != 200) return answer(c, id, verdict.status);
    const int status = io::portOf(verdict.target) == 81 ? 503 : 200;
    if (answerAtOnce) return answer(c, id, status);
    dials.push_back({id, status, round + dialRounds});
    c.setCancelHandler(id, [this, id](const std::string&) {
      FUZZ_CHECK(cancelled.insert(id).second);
      std::erase_if(dials, [id](const Dial& d) { return d.id == id; });
    });
  }

  void answer(hbone::H2Connection& c, int32_t id, int status) {
    FUZZ_CHECK(answered.insert(id).second);
    hbone::StreamCallbacks cbs;
    cbs.onDone = [this, id](const hbone::StreamStats&) { done[id]++; };
    if (status != 200) return c.respond(id, status, std::unique_ptr<hbone::StreamEndpoint>(), std::move(cbs));
    auto [endpoint, socket] = hbone::makeChannel(*loop, options.sendBufferBytes);
    auto app = std::make_unique<App>();
    app->sock = std::move(socket);
    App* a = app.get();
    FUZZ_CHECK(a->sock->watch(EPOLLIN | EPOLLOUT, [a](uint32_t) { serveApp(*a); }).ok());
    apps.push_back(std::move(app));
    bridged.insert(id);
    c.respond(id, 200, std::move(endpoint), std::move(cbs));
  }

  static void serveApp(App& a) {
    if (a.ended) return;
    char buf[4096];
    for (;;) {
      const ssize_t n = a.sock->read(buf, sizeof(buf));
      if (n > 0) continue;
      if (n == 0) {
        a.ended = true;
        (void)a.sock->send("hello", 5);
        a.sock->shutdownWrite();
        a.sock->unwatch();
      }
      return;  // EAGAIN, or a reset (ECONNRESET): the stream is gone
    }
  }

  void runDials(hbone::H2Connection& c) {
    auto due = std::move(dials);
    dials.clear();
    for (const Dial& d : due) {
      if (d.dueRound > round) {
        dials.push_back(d);
        continue;
      }
      c.setCancelHandler(d.id, nullptr);  // answered: as the tunnel's dial, no cancel after
      answer(c, d.id, d.status);
    }
  }
};

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

// The server's output, frame by frame (it sends no preface): HEADERS decoded.
void checkOutput(const Host& host, bool protocolError) {
  const std::string& out = host.wire->out;
  nghttp2_hd_inflater* inflater = nullptr;
  FUZZ_CHECK(nghttp2_hd_inflate_new(&inflater) == 0);
  std::vector<uint32_t> goawayLast;
  std::string block;
  int32_t blockStream = 0;
  size_t at = 0;
  while (at + 9 <= out.size()) {
    const size_t len = (size_t(uint8_t(out[at])) << 16) | (size_t(uint8_t(out[at + 1])) << 8) | uint8_t(out[at + 2]);
    const uint8_t type = uint8_t(out[at + 3]), flags = uint8_t(out[at + 4]);
    const int32_t stream = int32_t(be32(out, at + 5) & 0x7fffffff);
    FUZZ_CHECK(at + 9 + len <= out.size());  // the session writes whole frames
    const std::string payload = out.substr(at + 9, len);
    at += 9 + len;
    if (type == NGHTTP2_DATA) FUZZ_CHECK(host.bridged.count(stream));
    if (type == NGHTTP2_GOAWAY) {
      FUZZ_CHECK(len >= 8);
      goawayLast.push_back(be32(payload, 0) & 0x7fffffff);
    }
    if (type == NGHTTP2_HEADERS) {
      FUZZ_CHECK(!(flags & (NGHTTP2_FLAG_PADDED | NGHTTP2_FLAG_PRIORITY)));
      block = payload;
      blockStream = stream;
    } else if (type == NGHTTP2_CONTINUATION) {
      FUZZ_CHECK(stream == blockStream);
      block += payload;
    } else {
      continue;
    }
    if (!(flags & NGHTTP2_FLAG_END_HEADERS)) continue;
    // The answer to a request: 200 only where the host bridged the stream.
    const uint8_t* in = reinterpret_cast<const uint8_t*>(block.data());
    size_t left = block.size();
    for (;;) {
      nghttp2_nv nv;
      int inflateFlags = 0;
      const ssize_t rv = nghttp2_hd_inflate_hd2(inflater, &nv, &inflateFlags, in, left, 1);
      FUZZ_CHECK(rv >= 0);
      in += rv;
      left -= size_t(rv);
      if (inflateFlags & NGHTTP2_HD_INFLATE_EMIT) {
        const std::string_view name(reinterpret_cast<const char*>(nv.name), nv.namelen);
        const std::string_view value(reinterpret_cast<const char*>(nv.value), nv.valuelen);
        if (name == ":status" && value == "200") FUZZ_CHECK(host.bridged.count(blockStream));
        if (name == ":status") FUZZ_CHECK(host.answered.count(blockStream));
      }
      if (inflateFlags & NGHTTP2_HD_INFLATE_FINAL) {
        nghttp2_hd_inflate_end_headers(inflater);
        break;
      }
      if (rv == 0 && left == 0) break;
    }
  }
  nghttp2_hd_inflate_del(inflater);
  // A stream the host saw was processed: a GOAWAY never disowns it (RFC 9113 6.8).
  for (uint32_t last : goawayLast)
    for (const auto& [id, before] : host.requestOrder) FUZZ_CHECK(uint32_t(id) <= last);
  if (protocolError) FUZZ_CHECK(!goawayLast.empty());
}

}  // namespace

int hboneServerEntry(const uint8_t* data, size_t size) {
  static const bool quiet = (spdlog::set_level(spdlog::level::off), true);
  (void)quiet;
  if (size < 2) return 0;
  const bool sendPreface = data[0] & 1;
  const std::string_view client(reinterpret_cast<const char*>(data + 2), size - 2);

  auto loop = io::EventLoop::create();
  FUZZ_CHECK(loop.ok());
  Host host;
  host.loop = loop->get();
  host.options = fuzzOptions();
  host.answerAtOnce = data[0] & 2;
  host.dialRounds = data[0] >> 2;
  host.wire = std::make_shared<MemWire>();
  host.wire->in = (sendPreface ? std::string(kPreface) : std::string()) + std::string(client);
  host.wire->piece = data[1] < 128 ? size_t(data[1]) + 1 : size_t(data[1] - 127) * 1024;
  const bool validPreface = std::string_view(host.wire->in).starts_with(kPreface);

  hbone::H2Connection::Callbacks cbs;
  cbs.onRequest = [&host](hbone::H2Connection& c, int32_t id, const hbone::Headers& req) {
    host.onRequest(c, id, req);
  };
  cbs.onClosed = [&host](hbone::H2Connection&) { host.closed = true; };
  auto transport = std::make_unique<MemTransport>(**loop, host.wire, tls::Role::Server,
                                                  identity::SpiffeId{"cluster.local", "payments", "sa-checkout"});
  MemTransport* mem = transport.get();
  auto conn = hbone::H2Connection::startOn(**loop, std::move(transport), host.options, std::move(cbs), "fuzz client");
  const std::weak_ptr<void> guard = mem->guard();

  // Rounds until the connection closes: the client's bytes arrive one piece per
  // round; once all are in and nothing has moved for a few rounds (answers to
  // what it sent come first, pending dials end), the client closes. The bound
  // turns a connection that never finishes with its input into a finding.
  const size_t maxRounds = 4 * host.wire->in.size() + 64 * 4 + 1024;
  size_t quietRounds = 0;
  for (host.round = 0; !host.closed; ++host.round) {
    FUZZ_CHECK(host.round < maxRounds);
    const size_t outBefore = host.wire->out.size();
    (*loop)->runOnce(std::chrono::milliseconds(0));
    if (host.closed) break;
    host.runDials(*conn);
    if (host.closed) break;
    MemWire& w = *host.wire;
    const bool moreInput = w.arrived < w.in.size();
    if (moreInput || w.eof) MemTransport::poke(guard, mem);
    const bool moved = moreInput || w.out.size() != outBefore || !host.dials.empty();
    quietRounds = moved ? 0 : quietRounds + 1;
    if (!w.eof && w.ready && quietRounds >= 4) {
      w.eof = true;
      MemTransport::poke(guard, mem);
    }
  }
  (*loop)->runOnce(std::chrono::milliseconds(0));
  FUZZ_CHECK(conn->state() == hbone::H2Connection::State::Closed && conn->streamCount() == 0);
  FUZZ_CHECK(host.dials.empty());  // every dial answered or cancelled: nothing left behind
  for (int32_t id : host.answered) FUZZ_CHECK(host.done[id] == 1);
  for (int32_t id : host.cancelled) FUZZ_CHECK(!host.answered.count(id));
  checkOutput(host, validPreface && conn->closeReason().starts_with("HTTP/2 protocol error"));
  conn.reset();
  host.apps.clear();
  (*loop)->runOnce(std::chrono::milliseconds(0));
  return 0;
}

}  // namespace warren::fuzz
