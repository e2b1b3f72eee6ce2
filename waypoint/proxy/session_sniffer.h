#pragma once
// The first bytes a client sends inside an HBONE stream decide its protocol, as
// Envoy's waypoint listener does for an `http` port: the HTTP/2 connection
// preface (h2c with prior knowledge) means HTTP/2, anything else HTTP/1.1. The
// sniffer reads only until it can tell, then hands the socket and every byte it
// read to the chosen session, so nothing is lost or read twice.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "io/byte_stream.h"
#include "io/event_loop.h"
#include "waypoint/proxy/session_host.h"

namespace warren::waypoint {

enum class DownstreamProtocol { Http1, Http2 };

// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 3.4).
inline constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// nullopt while `first` is a proper prefix of the preface (more bytes needed).
std::optional<DownstreamProtocol> classifyFirstBytes(std::string_view first);

class SessionSniffer : public Session, public std::enable_shared_from_this<SessionSniffer> {
 public:
  // Runs once, from the loop, with the socket and the bytes read so far.
  using Decided = std::function<void(DownstreamProtocol, io::ByteStreamPtr, std::string initial)>;
  // The stream ended (or timed out) before anything could be decided.
  using Gone = std::function<void()>;
  static std::shared_ptr<SessionSniffer> start(io::EventLoop& loop, io::ByteStreamPtr fd, const SessionOptions& options,
                                               Decided decided, Gone gone);
  ~SessionSniffer() override;
  void abort() override;

 private:
  SessionSniffer(io::EventLoop& loop, io::ByteStreamPtr fd, Decided decided, Gone gone);
  void onReadable();
  void decide(DownstreamProtocol p);
  void end();
  void stop();

  io::EventLoop& loop_;
  io::ByteStreamPtr fd_;
  Decided decided_;
  Gone gone_;
  std::string buf_;
  uint64_t idleTimer_ = 0, prefaceTimer_ = 0;
  std::chrono::milliseconds headTimeout_{};
  bool done_ = false;
};

}  // namespace warren::waypoint
