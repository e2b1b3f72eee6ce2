// H2Upstream against a real nghttp2 server session driven by the test over a
// socketpair: what a sink hears when the upstream's window reopens.
#include "waypoint/proxy/h2_upstream.h"

#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "common/unique_fd.h"
#include "io/event_loop.h"
#include "io/fd_stream.h"

namespace warren::waypoint {
namespace {

using namespace std::chrono_literals;

// The upstream server: nghttp2 with no automatic WINDOW_UPDATE, so the test
// decides when the request body may flow again.
class TestServer {
 public:
  explicit TestServer(UniqueFd fd) : fd_(std::move(fd)) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cbs, [](nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t len, void* self) {
          static_cast<TestServer*>(self)->bodyBytes += len;
          return 0;
        });
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_server_new2(&h2_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~TestServer() { nghttp2_session_del(h2_); }

  // Reads what the client sent, then writes what the session has to say.
  void exchange() {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd_.get(), buf, sizeof buf)) > 0)
      ASSERT_GE(nghttp2_session_mem_recv(h2_, reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)), 0);
    const uint8_t* data = nullptr;
    while ((n = nghttp2_session_mem_send(h2_, &data)) > 0) ASSERT_EQ(::write(fd_.get(), data, n), n);
  }
  // Lets the client send `bytes` more on stream `id` (and on the connection).
  void openWindow(int32_t id, int32_t bytes) {
    nghttp2_submit_window_update(h2_, NGHTTP2_FLAG_NONE, id, bytes);
    nghttp2_submit_window_update(h2_, NGHTTP2_FLAG_NONE, 0, bytes);
    exchange();
  }

  size_t bodyBytes = 0;

 private:
  UniqueFd fd_;
  nghttp2_session* h2_ = nullptr;
};

struct RecordingSink : H2Upstream::Sink {
  void upstreamHeaders(int32_t, int, http1::HeaderList, bool) override {}
  void upstreamData(int32_t, const uint8_t*, size_t) override {}
  void upstreamTrailers(int32_t, http1::HeaderList) override {}
  void upstreamEnded(int32_t) override {}
  void upstreamFailed(int32_t, const std::string&, bool) override {}
  void requestBodyTaken(int32_t, size_t n) override {
    taken += n;
    toldSinceTaken = false;
  }
  void afterUpstreamEvent() override { toldSinceTaken = true; }

  size_t taken = 0;
  bool toldSinceTaken = true;  // afterUpstreamEvent came after the last requestBodyTaken
};

bool runUntil(io::EventLoop& loop, TestServer& server, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    loop.runOnce(10ms);
    server.exchange();
    if (done()) return true;
  }
  return false;
}

// A client streaming a body up through the waypoint has its window given back only
// when the sink hears afterUpstreamEvent (the session then sends its
// WINDOW_UPDATE). Body taken because the upstream's WINDOW_UPDATE arrived, with
// nothing else to report, must still be followed by afterUpstreamEvent: CI saw a
// 4 MiB gRPC upload stall at 3 MiB for want of it.
TEST(H2Upstream, BodyTakenAfterTheUpstreamsWindowUpdateIsFollowedByAfterUpstreamEvent) {
  auto loop = io::EventLoop::create();
  ASSERT_TRUE(loop.ok());
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  TestServer server{UniqueFd(fds[1])};
  auto up = H2Upstream::create(**loop, {}, "test upstream");
  up->attach(std::make_unique<io::FdStream>(**loop, UniqueFd(fds[0])));
  RecordingSink sink;
  const int32_t id = up->submit(
      sink, 7, {{":method", "POST"}, {":scheme", "http"}, {":authority", "ledger"}, {":path", "/u"}}, {}, false);
  ASSERT_GT(id, 0);
  const std::string body(100000, 'x');
  up->sendBody(id, body.data(), body.size());

  // The default windows (65,535 bytes) let that much through, then it waits.
  ASSERT_TRUE(runUntil(**loop, server, [&] { return server.bodyBytes == 65535 && sink.taken == 65535; }))
      << server.bodyBytes << " " << sink.taken;
  ASSERT_TRUE(runUntil(**loop, server, [&] { return sink.toldSinceTaken; }));

  // The upstream's WINDOW_UPDATE alone moves the rest of the body.
  server.openWindow(id, 100000);
  ASSERT_TRUE(runUntil(**loop, server, [&] { return sink.taken == body.size(); })) << sink.taken;
  EXPECT_TRUE(runUntil(**loop, server, [&] { return sink.toldSinceTaken; }))
      << "the sink was never told after its body was taken: its client's window stays shut";
  EXPECT_EQ(server.bodyBytes, body.size());
  up->forget(sink);
  up->close();
}

}  // namespace
}  // namespace warren::waypoint
