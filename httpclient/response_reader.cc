#include "httpclient/response_reader.h"

#include <http_parser.h>

#include <optional>
#include <string>

namespace warren::httpclient {

struct ResponseReader::Impl {
  BodySink sink;
  http_parser parser{};
  http_parser_settings settings{};
  bool headersDone = false, done = false;
  std::optional<Error> sinkError;

  static Impl* of(http_parser* p) { return static_cast<Impl*>(p->data); }
  static int onHeadersComplete(http_parser* p) {
    of(p)->headersDone = true;
    return 0;
  }
  static int onBody(http_parser* p, const char* at, size_t len) {
    Impl* self = of(p);
    if (auto s = self->sink(std::string_view(at, len)); !s) {
      self->sinkError = s.error();
      return 1;
    }
    return 0;
  }
  static int onComplete(http_parser* p) {
    of(p)->done = true;
    // Stop here: bytes after a complete response are not ours (Connection: close).
    http_parser_pause(p, 1);
    return 0;
  }
};

ResponseReader::ResponseReader(BodySink sink) : impl_(std::make_unique<Impl>()) {
  impl_->sink = std::move(sink);
  http_parser_settings_init(&impl_->settings);
  impl_->settings.on_headers_complete = Impl::onHeadersComplete;
  impl_->settings.on_body = Impl::onBody;
  impl_->settings.on_message_complete = Impl::onComplete;
  http_parser_init(&impl_->parser, HTTP_RESPONSE);
  impl_->parser.data = impl_.get();
}

ResponseReader::~ResponseReader() = default;

Status ResponseReader::feed(const char* data, size_t len) {
  if (impl_->done) return okStatus();
  const size_t used = http_parser_execute(&impl_->parser, &impl_->settings, data, len);
  if (impl_->sinkError) return *impl_->sinkError;
  const auto err = HTTP_PARSER_ERRNO(&impl_->parser);
  if (impl_->done) return okStatus();
  if (err != HPE_OK || used != len)
    return makeError(std::string("malformed HTTP response: ") + http_errno_description(err));
  if (len == 0 && !impl_->done) return makeError("connection closed before the response was complete");
  return okStatus();
}

bool ResponseReader::headersComplete() const { return impl_->headersDone; }
int ResponseReader::status() const { return static_cast<int>(impl_->parser.status_code); }
bool ResponseReader::complete() const { return impl_->done; }

}  // namespace warren::httpclient
