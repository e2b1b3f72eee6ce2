#include "common/buffered_fd_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

namespace warren {
namespace {

// A pipe whose read end never blocks: what the sink has written so far.
struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() {
    EXPECT_EQ(::pipe2(fds, O_NONBLOCK), 0);
    ::fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);
  }
  ~Pipe() {
    ::close(fds[0]);
    if (fds[1] >= 0) ::close(fds[1]);
  }
  std::string drain() const {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
};

std::shared_ptr<spdlog::logger> loggerOn(int fd, size_t block) {
  auto logger = std::make_shared<spdlog::logger>("t", std::make_shared<BufferedFdSink>(fd, block));
  logger->set_pattern("%v");
  logger->flush_on(spdlog::level::warn);
  return logger;
}

TEST(BufferedFdSink, InfoLinesWaitForAFlushThenArriveInOrder) {
  Pipe p;
  auto logger = loggerOn(p.fds[1], 1 << 16);
  logger->info("access one");
  logger->info("access two");
  EXPECT_EQ(p.drain(), "");  // spdlog's stderr sink would have written both already
  logger->flush();
  EXPECT_EQ(p.drain(), "access one\naccess two\n");
}

TEST(BufferedFdSink, AWarningFlushesWhatCameBeforeIt) {
  Pipe p;
  auto logger = loggerOn(p.fds[1], 1 << 16);
  logger->info("access one");
  logger->warn("upstream gone");
  EXPECT_EQ(p.drain(), "access one\nupstream gone\n");
}

TEST(BufferedFdSink, AFullBlockIsWrittenWithoutAFlush) {
  Pipe p;
  auto logger = loggerOn(p.fds[1], 100);
  const std::string line(60, 'x');
  logger->info(line);
  EXPECT_EQ(p.drain(), "");
  logger->info(line);  // 122 bytes buffered: over the block
  EXPECT_EQ(p.drain(), line + "\n" + line + "\n");
}

TEST(BufferedFdSink, TheSinksEndWritesTheRest) {
  Pipe p;
  {
    auto logger = loggerOn(p.fds[1], 1 << 16);
    logger->info("last words");
  }
  EXPECT_EQ(p.drain(), "last words\n");
}

}  // namespace
}  // namespace warren
