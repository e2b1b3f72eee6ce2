#include "waypoint/http1/head_scanner.h"

#include <utility>

namespace warren::waypoint::http1 {
namespace {

// RFC 9110 5.6.2 tchar: a header name is a token.
bool isTchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~': return true;
    default: return false;
  }
}

// RFC 9110 5.5: field-vchar, SP, HTAB, and obs-text; every other control
// character (NUL above all: C-string handling upstream truncates at it) is refused.
bool isValueChar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

}  // namespace

void HeadScanner::reset() {
  state_ = State::Leading;
  bytes_ = 0;
  headers_ = 0;
  errorStatus_ = 0;
  errorReason_.clear();
}

void HeadScanner::resetForTrailers() {
  reset();
  state_ = State::LineStart;
}

bool HeadScanner::fail(int status, std::string reason) {
  state_ = State::Failed;
  errorStatus_ = status;
  errorReason_ = std::move(reason);
  return false;
}

HeadScanner::Outcome HeadScanner::scan(std::string_view data) {
  if (state_ == State::Failed) return {Result::Error, 0};
  if (state_ == State::Done) return {Result::Done, 0};
  for (size_t i = 0; i < data.size(); ++i) {
    if (!step(data[i])) return {Result::Error, i};
    if (state_ == State::Done) return {Result::Done, i + 1};
  }
  return {Result::NeedMore, data.size()};
}

bool HeadScanner::step(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (++bytes_ > maxHeadBytes_) return fail(431, "message head larger than the limit");
  switch (state_) {
    case State::Leading:
      // RFC 9112 2.2: empty lines before the start line may be ignored (clients
      // send a stray CRLF after a POST body); they must still be CRLF.
      if (c == '\r') {
        state_ = State::LeadingCr;
        return true;
      }
      if (c == '\n') return fail(400, "bare LF before the start line");
      state_ = State::StartLine;
      [[fallthrough]];
    case State::StartLine:
      // The library checks the method, target and version; only the line's end
      // and NUL are ours (a NUL would truncate the target in C-string code).
      if (c == '\r') {
        state_ = State::StartLineCr;
        return true;
      }
      if (c == '\n') return fail(400, "bare LF ending the start line");
      if (c == 0) return fail(400, "NUL in the start line");
      return true;
    case State::LeadingCr:
      if (c != '\n') return fail(400, "CR not followed by LF before the start line");
      state_ = State::Leading;
      return true;
    case State::StartLineCr:
      if (c != '\n') return fail(400, "CR not followed by LF in the start line");
      state_ = State::LineStart;
      return true;
    case State::LineStart:
      if (c == '\r') {
        state_ = State::FinalCr;
        return true;
      }
      if (c == '\n') return fail(400, "bare LF line ending in the head");
      if (c == ' ' || c == '\t') return fail(400, "obs-fold: header line starts with whitespace");
      if (c == ':') return fail(400, "empty header name");
      if (!isTchar(c)) return fail(400, "invalid character in header name");
      if (++headers_ > maxHeaders_) return fail(431, "more headers than the limit");
      state_ = State::Name;
      return true;
    case State::Name:
      if (c == ':') {
        state_ = State::Value;
        return true;
      }
      if (c == ' ' || c == '\t') return fail(400, "whitespace between header name and colon");
      if (c == '\r' || c == '\n') return fail(400, "header line without a colon");
      if (!isTchar(c)) return fail(400, "invalid character in header name");
      return true;
    case State::Value:
      if (c == '\r') {
        state_ = State::ValueCr;
        return true;
      }
      if (c == '\n') return fail(400, "bare LF line ending in a header");
      if (c == 0) return fail(400, "NUL in header value");
      if (!isValueChar(c)) return fail(400, "control character in header value");
      return true;
    case State::ValueCr:
      if (c != '\n') return fail(400, "CR not followed by LF in a header value");
      state_ = State::LineStart;
      return true;
    case State::FinalCr:
      if (c != '\n') return fail(400, "CR not followed by LF at the end of the head");
      state_ = State::Done;
      return true;
    case State::Done:
    case State::Failed: break;
  }
  return fail(400, "internal: head scanned past its end");
}

}  // namespace warren::waypoint::http1
