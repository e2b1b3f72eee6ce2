#pragma once
// An spdlog sink that gathers formatted lines and writes them to a file
// descriptor in blocks: when a block is full, and when spdlog flushes (flush_on's
// level, flush_every's period, the logger's end). spdlog's own stderr sink cannot
// do this: it calls fflush(3) after every line, so a buffered stderr still costs
// one write(2) per line (6% of the waypoint's CPU with an access line per request).

#include <mutex>
#include <string>

#include <spdlog/sinks/base_sink.h>

namespace warren {

class BufferedFdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static constexpr size_t kDefaultBlockBytes = 64 << 10;

  explicit BufferedFdSink(int fd, size_t blockBytes = kDefaultBlockBytes);
  ~BufferedFdSink() override;  // writes what is still buffered

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  void writeOut();

  int fd_;
  size_t blockBytes_;
  std::string pending_;
  // One line being formatted, reused (sink_it_ runs under base_sink's mutex): a
  // local buffer cost a malloc per line longer than its 250 inline bytes, which
  // every waypoint access line is.
  spdlog::memory_buf_t line_;
};

}  // namespace warren
