#pragma once
// An HTTP/1.1 response parsed incrementally as bytes arrive (libhttp-parser):
// Content-Length, chunked, or read-to-close bodies. The body reaches the caller
// in pieces, framing removed, as soon as each piece is read, which is what a
// streaming answer (a Kubernetes watch) needs.

#include <functional>
#include <memory>
#include <string_view>

#include "common/result.h"

namespace warren::httpclient {

class ResponseReader {
 public:
  // Called with each piece of the body; an error stops the parse and is returned
  // by feed().
  using BodySink = std::function<Status(std::string_view)>;
  explicit ResponseReader(BodySink sink);
  ~ResponseReader();
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  // Bytes read from the connection; len 0 tells the parser the stream ended (a
  // read-to-close body then completes; anything cut short is an error).
  Status feed(const char* data, size_t len);

  bool headersComplete() const;
  int status() const;  // valid once headersComplete()
  bool complete() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren::httpclient
