#pragma once
// A byte-level check of an HTTP/1.1 message head, run on the bytes before
// libhttp-parser sees them. The library is lenient where leniency lets two
// parsers disagree on where a header or the head ends (a bare LF ends a line,
// a line starting with SP/HTAB continues the previous header), so those shapes
// are refused here, before the library can accept them. It also enforces the
// waypoint's own head-size and header-count limits ahead of the library's 80 KiB.
//
// Incremental: the head may arrive in any number of pieces, down to one byte;
// each byte is examined once (the caller offers only bytes not scanned before).
//
// The trailer section of a chunked body (RFC 9112 7.1.2) is a list of fields
// like the head's, without a start line: resetForTrailers() scans it with the
// same checks and the same limits.

#include <cstddef>
#include <string>
#include <string_view>

namespace warren::waypoint::http1 {

class HeadScanner {
 public:
  enum class Result { NeedMore, Done, Error };
  struct Outcome {
    Result result = Result::NeedMore;
    size_t scanned = 0;  // bytes examined; for Done, up to and including the final LF
  };

  HeadScanner(size_t maxHeadBytes, size_t maxHeaders) : maxHeadBytes_(maxHeadBytes), maxHeaders_(maxHeaders) {}

  // Examines data up to the end of the head. After Done or Error, reset() first.
  Outcome scan(std::string_view data);
  void reset();
  // The next bytes are a trailer section: field lines through the empty line.
  void resetForTrailers();
  size_t bytes() const { return bytes_; }  // scanned since reset(): the head's size once Done

  // After Error: the status (400 or 431) and why.
  int errorStatus() const { return errorStatus_; }
  const std::string& errorReason() const { return errorReason_; }

 private:
  enum class State {
    Leading,    // before the start line: empty lines (CRLF) are skipped
    LeadingCr,  // CR of such an empty line
    StartLine,
    StartLineCr,
    LineStart,  // first byte of a header line, or the CR of the empty line
    Name,
    Value,
    ValueCr,
    FinalCr,
    Done,
    Failed,
  };
  bool step(char c);  // false: failed
  bool fail(int status, std::string reason);

  size_t maxHeadBytes_;
  size_t maxHeaders_;
  State state_ = State::Leading;
  size_t bytes_ = 0;
  size_t headers_ = 0;
  int errorStatus_ = 0;
  std::string errorReason_;
};

}  // namespace warren::waypoint::http1
