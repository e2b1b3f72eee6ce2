#pragma once
// One HBONE connection: the HTTP/2 (nghttp2) session of a TLS transport
// (tls::TlsTransport: TLS 1.3 over the TCP socket, handshake, peer identity; any
// tls::PlaintextTransport through startOn(), bytes in memory for the fuzzer), and
// its CONNECT streams, each handed to an app side (StreamEndpoint, see
// stream_endpoint.h). Today that is always a plain TCP socket (FdStreamBridge in
// stream_bridge.h): the captured app connection on the client side, the connection
// to the app on the server side. Transport, session and bridge are three files so
// that the waypoint can reuse the first two without the third. Runs entirely on the
// event loop thread.
//
// Flow control is end to end, so no direction ever buffers without bound:
//  - TCP -> HTTP/2: a stream reads its TCP socket only while its send buffer
//    (sendBufferBytes) has room and holds less than the peer's window (a peer that
//    keeps its windows at 0 gets nothing read for it), and the HTTP/2 layer only
//    pulls from that buffer as the peer's window allows; the TLS output is only
//    refilled once it has drained.
//  - HTTP/2 -> TCP: received DATA is acknowledged to the peer (WINDOW_UPDATE) only
//    once it has been written to the TCP socket, so a slow reader stops the sender at
//    one stream window (streamWindow).
// Half-close: TCP EOF becomes END_STREAM and END_STREAM becomes shutdown(SHUT_WR),
// each after the bytes before it. A TCP reset becomes RST_STREAM(CONNECT_ERROR), an
// RST_STREAM or a lost connection becomes a TCP reset.
//
// Socket I/O is batched: OpenSSL reads and writes ciphertext in the transport's
// buffers (tls::CipherBuffers), and the transport moves them with one read(2) or
// send(2) per burst; DATA received in a burst is written to each TCP side once.
// Every send uses MSG_NOSIGNAL: a peer that went away is an error, not a SIGPIPE.

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "hbone/header_block_tracker.h"
#include "hbone/liveness.h"
#include "hbone/receive_budget.h"
#include "hbone/stream_endpoint.h"
#include "identity/identity.h"
#include "io/event_loop.h"
#include "io/tcp.h"
#include "tls/plaintext_transport.h"
#include "tls/tls_context.h"

namespace warren::hbone {

struct H2Options {
  // SETTINGS_MAX_CONCURRENT_STREAMS we accept, and the most a client opens.
  uint32_t maxConcurrentStreams = 100;
  uint32_t streamWindow = 4u << 20;  // per stream: the bound on h2 -> TCP buffering
  // Per connection. Returned as DATA arrives, not as it is delivered, so that
  // stalled streams cannot freeze the others, while the process stays within
  // receiveBudget (receive_budget.h).
  uint32_t connectionWindow = 16u << 20;
  ReceiveBudget* receiveBudget = nullptr;  // null: ReceiveBudget::process()
  size_t sendBufferBytes = 256u << 10;     // per stream: the bound on TCP -> h2 buffering
  std::chrono::milliseconds handshakeTimeout{10000};
  // A connection without streams for this long is closed with GOAWAY.
  std::chrono::milliseconds idleTimeout{60000};

  // --- abuse resistance: each limit set explicitly, whatever nghttp2's defaults ---
  // SETTINGS_MAX_HEADER_LIST_SIZE, and enforced on what arrives (nghttp2 only
  // advertises it): a bigger header list resets its stream. ztunnel's server takes
  // 64 KiB (src/proxy/h2/server.rs); a CONNECT needs a few hundred bytes.
  uint32_t maxHeaderListBytes = 64u << 10;
  // RST_STREAMs a client may send (CVE-2023-44487, rapid reset): a token bucket of
  // resetBurst tokens refilled at resetRatePerSecond; past it, GOAWAY. nghttp2's
  // defaults, made explicit. Server only (nghttp2 applies it to servers).
  uint64_t resetBurst = 1000;
  uint64_t resetRatePerSecond = 33;
  // A header block begun (HEADERS without END_HEADERS) must end within this, or the
  // connection is closed: a peer cannot hold it open with half a request
  // (slowloris), which would otherwise also keep the idle timeout away.
  std::chrono::milliseconds headerBlockTimeout{10000};

  // --- liveness (a peer that vanished without a FIN or RST) ---
  // HTTP/2 PING after silence on a connection with streams (liveness.h).
  std::chrono::milliseconds pingInterval{10000};
  std::chrono::milliseconds pingTimeout{20000};
  // TCP keepalive on the HBONE socket, as ztunnel sets it (src/config.rs,
  // SocketConfig: 180 s idle, 180 s between probes, 9 probes), and
  // TCP_USER_TIMEOUT = idle + probes x interval, ztunnel's formula (Cloudflare's
  // "When TCP sockets refuse to die"), which ztunnel leaves off by default; here on.
  io::TcpLiveness tcp{std::chrono::seconds(180), std::chrono::seconds(180), 9, std::chrono::seconds(180 + 9 * 180)};
  // Client: a CONNECT whose response has not arrived within this is reset and its
  // app connection closed. Longer than the server's own app connect timeout (the
  // tunnel's 5 s), so a slow app still gets its 503 through. 0: no limit.
  std::chrono::milliseconds connectResponseTimeout{15000};
  // Client: a stream's first bytes go out right behind its CONNECT, within the
  // peer's stream window, instead of one round trip later once the 2xx is back
  // ("optimistic data", which draft-ietf-httpbis-connect-tcp allows in HTTP/2 and
  // requires proxies to buffer until the destination connection is up). A new
  // connection whose client speaks first (HTTP, TLS) is answered a mesh round trip
  // sooner. Refused streams drop the bytes: the server holds them unread until it
  // has authorized the stream and connected the app (this server does). false:
  // nothing is sent before the 2xx, as ztunnel does.
  bool earlyData = true;
};

// A header list as sent or received (lower-case names, pseudo-headers included).
using Headers = std::vector<std::pair<std::string, std::string>>;
std::optional<std::string> findHeader(const Headers& h, std::string_view name);

struct StreamStats {
  uint64_t bytesToPeer = 0;    // read from the TCP side, sent as DATA
  uint64_t bytesFromPeer = 0;  // received as DATA, written to the TCP side
  std::chrono::steady_clock::duration duration{};
  int status = 0;         // HTTP status sent (server) or received (client); 0 none
  std::string endReason;  // "closed", "reset by peer (...)", "TCP reset", ...
  // The connection's TLS session, for the audit log: OpenSSL's static names
  // ("TLSv1.3", "TLS_AES_256_GCM_SHA384"); null when no session was established.
  const char* tlsVersion = nullptr;
  const char* tlsCipher = nullptr;
};

// A live stream, for the admin endpoint: what it carries so far.
struct StreamInfo {
  int32_t id = 0;
  std::string authority;  // the CONNECT request's :authority
  int status = 0;
  uint64_t bytesToPeer = 0, bytesFromPeer = 0;
  std::chrono::steady_clock::duration age{};
};

struct StreamCallbacks {
  // Client only: the response status arrived (before any data flows). With a
  // non-2xx status the stream ends right after and onDone follows.
  std::function<void(int status)> onResponse;
  // Exactly once, when both directions have ended and the TCP socket is closed.
  std::function<void(const StreamStats&)> onDone;
};

// Privately a StreamHost: what each stream's app side may ask of the session. Final:
// StreamHost has virtual functions and no virtual destructor, so clang (the fuzz
// build) refuses to delete an H2Connection that a subclass could extend.
class H2Connection final : public std::enable_shared_from_this<H2Connection>, private StreamHost {
 public:
  enum class State { Handshaking, Ready, Closing, Closed };

  struct Callbacks {
    // TLS and HTTP/2 are up (client: the server proved the expected identity), or
    // the connection failed before that. Called once.
    std::function<void(H2Connection&, const Status&)> onReady;
    // Server: a complete request arrived on a new stream. Answer with respond(),
    // now or later; the stream may be reset by the client meanwhile.
    std::function<void(H2Connection&, int32_t streamId, const Headers& request)> onRequest;
    // The connection is gone (after every stream's onDone).
    std::function<void(H2Connection&)> onClosed;
  };

  // Takes a connected TCP socket and runs the TLS handshake on it. A client passes
  // the identity the server must present.
  static std::shared_ptr<H2Connection> start(io::EventLoop& loop, UniqueFd sock, tls::TlsContextPtr ctx,
                                             H2Options options, Callbacks callbacks,
                                             std::optional<identity::SpiffeId> expectedPeer, std::string peerLabel);
  // The same over any transport (tls/plaintext_transport.h): start() passes a
  // TlsTransport; the hbone_server fuzz target passes bytes in memory.
  static std::shared_ptr<H2Connection> startOn(io::EventLoop& loop, std::unique_ptr<tls::PlaintextTransport> transport,
                                               H2Options options, Callbacks callbacks, std::string peerLabel);
  ~H2Connection();

  // Client: a CONNECT stream carrying `app`'s bytes. May be called while the
  // handshake runs (the request is sent when ready). Fails only when the
  // connection can take no more streams; app is then left untouched in *app.
  Result<int32_t> openStream(const Headers& request, UniqueFd& app, StreamCallbacks callbacks);
  // The same with any app side (an in-process ChannelEndpoint); left in *app on failure.
  Result<int32_t> openStream(const Headers& request, std::unique_ptr<StreamEndpoint>& app, StreamCallbacks callbacks);

  // Server: answers stream `id`. 2xx with a connected `tcp` starts the bridge;
  // any other status ends the stream (tcp is ignored). A stream the client has
  // already reset is answered by closing tcp.
  void respond(int32_t id, int status, UniqueFd tcp, StreamCallbacks callbacks);
  // The same with any app side (an in-process ChannelEndpoint).
  void respond(int32_t id, int status, std::unique_ptr<StreamEndpoint> app, StreamCallbacks callbacks);
  // Server: while stream `id` awaits respond(), `cancel` runs (once, with the
  // reason) if the client resets it or the connection closes first, so that the
  // work towards the answer stops there (the tunnel's connect to the app). A reset
  // must not leave behind a dial, a socket or a timer: rapid reset
  // (CVE-2023-44487) is an attack on exactly that. respond() drops the handler.
  void setCancelHandler(int32_t id, std::function<void(const std::string& why)> cancel);

  // Sends GOAWAY; running streams finish, no new ones are accepted or opened.
  void shutdown();
  // Server: the first half of a graceful GOAWAY (RFC 9113 6.8): a GOAWAY whose last
  // stream id is 2^31-1, so the peer opens no new stream here while one it sent
  // before reading this is still served (a plain GOAWAY would refuse that one and
  // its app connection would fail). shutdown() later sends the real one. False
  // when nothing was sent (not ready, already told, or a client: use shutdown()).
  bool shutdownNotice();
  // Resets one stream (RST_STREAM CANCEL to the peer, TCP reset to the app side),
  // e.g. when a policy change revokes it; its onDone reports `reason`. No-op for a
  // stream that has already ended.
  void abortStream(int32_t id, const std::string& reason);

  State state() const { return state_; }
  bool goingAway() const { return closing_; }  // GOAWAY sent or received
  // Room for another client stream (counting streams queued before the handshake).
  bool hasCapacity() const;
  size_t streamCount() const { return streams_.size(); }
  bool hasStream(int32_t id) const { return streams_.count(id) != 0; }
  std::vector<StreamInfo> streamInfo() const;
  const std::optional<identity::SpiffeId>& peerIdentity() const { return transport_->peerIdentity(); }
  // The TLS session's protocol and cipher (OpenSSL's static names), or nulls.
  void tlsNames(const char*& version, const char*& cipher) const { transport_->sessionNames(version, cipher); }
  // The TLS context the connection runs on; null over a transport without TLS.
  const tls::TlsContext* tlsContext() const { return transport_->context(); }
  const std::string& peerLabel() const { return peerLabel_; }
  // Bytes held in user space for this connection (TLS output plus every stream's
  // buffers): what flow control keeps bounded.
  size_t bufferedBytes() const;
  uint64_t connectionId() const { return id_; }
  uint64_t pingsSent() const { return pingsSent_; }  // liveness PINGs so far
  // Why the connection closed ("HTTP/2 protocol error: ...", "GOAWAY", ...); empty
  // while it is open.
  const std::string& closeReason() const { return closeReason_; }

 private:
  struct Stream;
  H2Connection(io::EventLoop& loop, std::unique_ptr<tls::PlaintextTransport> transport, H2Options options,
               Callbacks callbacks, std::string peerLabel);

  // --- the transport below ---
  void onTlsReady();  // the handshake is done and the peer verified: start HTTP/2
  void onSocketEvent(uint32_t events);
  Status startSession();
  void readTls();
  bool decryptBuffered();  // every whole record buffered through nghttp2; false: closed
  // tlsOut_ into TLS (only whole 16 KiB records' worth with wholeRecordsOnly, the
  // rest staying for the next frames); false: the connection failed.
  bool writeStaged(bool wholeRecordsOnly = false);
  void pump();               // moves nghttp2 output into TLS while the output buffer has room
  void writeDirtyStreams();  // DATA received in this burst, delivered once per stream
  // The peer's window grew for stream `id` (0: the connection, or every stream's
  // initial window): each open stream's app side may read again.
  void peerWindowOpened(int32_t id);
  ReceiveBudget& budget() const;
  // A stream going away: its undelivered bytes leave the budget and the connection
  // window still owed for them is returned.
  void releaseReceived(Stream& s);
  void updateSocketInterest();
  void fail(const std::string& reason);
  void closeNow(const std::string& reason);
  void maybeCloseWhenDone();
  void armIdleTimer();
  // onRequest for the requests of this read burst still open, after what the burst
  // made nghttp2 queue has gone out; a request above the last stream id of a GOAWAY
  // sent meanwhile is refused instead.
  void dispatchRequests();
  void watchHeaderBlock();  // arms or disarms the header-block timer after received bytes
  void armLivenessTimer(std::chrono::milliseconds in);
  void onLivenessTimer();
  bool isServer() const { return transport_->role() == tls::Role::Server; }

  // --- streams ---
  Stream* findStream(int32_t id);
  int32_t submitRequest(std::unique_ptr<Stream> s);
  void resetStream(Stream& s, const std::string& reason, uint32_t h2Code);
  void maybeFinishStream(Stream& s);
  void finishStream(int32_t id);

  // --- StreamHost: calls from a stream's app side ---
  void consumed(int32_t id, size_t n) override;
  void sendReady(int32_t id) override;
  int64_t peerWindow(int32_t id) const override;
  void appFailed(int32_t id, const std::string& reason, AppError error) override;
  void delivered(int32_t id) override;
  void afterAppEvent() override;

  // --- nghttp2 callbacks (static trampolines in the .cc) ---
  friend struct H2Callbacks;
  int onBeginHeaders(const nghttp2_frame* frame);
  int onHeader(const nghttp2_frame* frame, std::string_view name, std::string_view value);
  int onFrameRecv(const nghttp2_frame* frame);
  int onFrameSent(const nghttp2_frame* frame);
  int onDataChunk(int32_t streamId, const uint8_t* data, size_t len);
  int onStreamClose(int32_t streamId, uint32_t errorCode);
  ssize_t readData(int32_t streamId, uint8_t* buf, size_t length, uint32_t* flags);

  io::EventLoop& loop_;
  std::unique_ptr<tls::PlaintextTransport> transport_;  // TlsTransport but in the fuzz target
  nghttp2_session* session_ = nullptr;
  H2Options options_;
  Callbacks callbacks_;
  std::string peerLabel_;
  std::string closeReason_;
  State state_ = State::Handshaking;
  bool flushQueued_ = false;  // afterAppEvent's send at the loop round's end is queued
  bool readyReported_ = false;
  bool closing_ = false;     // GOAWAY sent or received: no new streams
  bool noticeSent_ = false;  // shutdownNotice() done: new streams still served
  bool inCallback_ = false;  // inside nghttp2: mem_send/mem_recv must not be re-entered
  std::string tlsOut_;       // encrypted-to-be bytes nghttp2 produced and TLS has not taken yet
  size_t tlsOutHead_ = 0;
  uint64_t idleTimer_ = 0;
  // Requests complete in this read burst, handed to onRequest once the burst is
  // processed: a HEADERS and the RST_STREAM after it in one burst (rapid reset)
  // never reach onRequest, so they cost no app connection.
  std::vector<int32_t> requestsReady_;
  HeaderBlockTracker headerBlocks_;  // set up in the constructor: a server expects the preface
  uint64_t headerBlockTimer_ = 0;
  LivenessClock liveness_;
  uint64_t livenessTimer_ = 0;
  uint64_t pingsSent_ = 0;
  // The lowest last stream id of the GOAWAYs sent (2^31-1: none, or only the
  // shutdown notice): streams above it are refused, never dispatched.
  int32_t goawayLastStreamId_ = INT32_MAX;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;  // by HTTP/2 stream id
  std::vector<std::unique_ptr<Stream>> pendingOpens_;   // client streams queued until Ready
  std::vector<int32_t> dirty_;                          // streams that received DATA since the last writeDirtyStreams
  uint64_t id_;
};

}  // namespace warren::hbone
