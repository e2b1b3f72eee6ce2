#pragma once
// What an HTTP/2 session needs from the connection below it: plaintext in and out,
// pull style, driven from its socket events, and who the peer is. TlsTransport
// (tls_transport.h) is the one every HBONE connection runs on; the interface exists
// so that the session above (hbone::H2Connection) can also be fed bytes from memory,
// without a socket or TLS (the hbone_server fuzz target, tests/fuzz).

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "identity/identity.h"
#include "tls/tls_context.h"

namespace warren::tls {

class PlaintextTransport {
 public:
  virtual ~PlaintextTransport() = default;

  struct Callbacks {
    // The handshake completed and the peer is verified: plaintext may flow. Once.
    std::function<void()> onReady;
    // A socket event after the handshake: the owner reads and writes.
    std::function<void(uint32_t events)> onSocketEvent;
    // The transport cannot go on. The owner stops it (it may already be stopped:
    // then ignore). Never called after stop().
    std::function<void(const std::string& reason)> onFailed;
  };

  // Starts the handshake (if any) under a timeout. Callbacks run only while `guard`
  // (the owner's weak_from_this()) lives, and hold it while they run. A setup error
  // reaches onFailed from the loop, not from here.
  virtual void start(std::weak_ptr<void> guard, std::chrono::milliseconds handshakeTimeout, Callbacks callbacks) = 0;

  // --- after onReady ---

  enum class SocketRead { Filled, Drained, WouldBlock, Eof, NoRoom, Failed };
  // One read of input. Filled: it took all the room there was (more may be
  // waiting). Failed: onFailed has been called.
  virtual SocketRead readSocket() = 0;

  struct Plaintext {
    enum Kind {
      Data,        // `size` bytes were written to the caller's buffer
      Wait,        // nothing more until more input arrives (or output drains)
      PeerClosed,  // the peer's orderly end after its last whole record
      Failed,      // error: onFailed has been called
    } kind;
    size_t size = 0;
  };
  // The next plaintext from buffered input: at most len bytes.
  virtual Plaintext readPlain(char* buf, size_t len) = 0;
  // Frees the input buffer when it holds nothing (an idle connection holds none).
  virtual void releaseIdleInput() = 0;

  // Takes plaintext for the peer: bytes taken, fewer than len (maybe 0) when the
  // output buffer is full. On an error onFailed is called and the count so far
  // returned.
  virtual size_t writePlain(const uint8_t* data, size_t len) = 0;
  // Sends the output until it is empty or the peer is full (then a socket event
  // resumes, see updateInterest). false: failed (onFailed called).
  virtual bool flush() = 0;
  virtual bool outputPending() const = 0;
  // Watches for input, and for room while output is pending. After onReady only.
  virtual void updateInterest() = 0;

  // --- closing ---

  // Stops every event and timer; with closeNotify, a best-effort orderly close is
  // sent. No callback runs after this.
  virtual void stop(bool closeNotify) = 0;
  // Releases the socket (after stop()).
  virtual void closeSocket() = 0;

  virtual Role role() const = 0;
  // The TLS context, null for a transport without TLS.
  virtual const TlsContext* context() const = 0;
  virtual const std::optional<identity::SpiffeId>& peerIdentity() const = 0;
  // "TLSv1.3 ..." for logs.
  virtual std::string describeSession() const = 0;
  // The session's protocol and cipher names (static strings), or nulls.
  virtual void sessionNames(const char*& version, const char*& cipher) const = 0;
  // Bytes held in user space (input not yet read, output not yet sent).
  virtual size_t bufferedBytes() const = 0;
};

}  // namespace warren::tls
