#include "common/buffered_fd_sink.h"

#include <unistd.h>

#include <cerrno>

namespace warren {

BufferedFdSink::BufferedFdSink(int fd, size_t blockBytes) : fd_(fd), blockBytes_(blockBytes) {
  pending_.reserve(blockBytes_);
}

BufferedFdSink::~BufferedFdSink() {
  std::lock_guard lock(mutex_);
  writeOut();
}

void BufferedFdSink::sink_it_(const spdlog::details::log_msg& msg) {
  line_.clear();  // keeps its capacity: a line longer than the inline 250 bytes allocates once, not each time
  formatter_->format(msg, line_);
  pending_.append(line_.data(), line_.size());
  if (pending_.size() >= blockBytes_) writeOut();
}

void BufferedFdSink::flush_() { writeOut(); }

void BufferedFdSink::writeOut() {
  size_t done = 0;
  while (done < pending_.size()) {
    ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // nowhere to log that logging failed: the lines are dropped, not retried forever
    }
  }
  pending_.clear();
}

}  // namespace warren
