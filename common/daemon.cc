#include "common/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "common/buffered_fd_sink.h"

namespace warren {

void setupLogging(const std::string& level, const std::string& component, bool bufferInfo) {
  std::shared_ptr<spdlog::logger> logger;
  if (bufferInfo) {
    logger = std::make_shared<spdlog::logger>(component, std::make_shared<BufferedFdSink>(STDERR_FILENO));
    spdlog::register_logger(logger);
  } else {
    logger = spdlog::stderr_logger_mt(component);
  }
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ " + component + " %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  if (bufferInfo) {
    spdlog::flush_on(spdlog::level::warn);
    spdlog::flush_every(std::chrono::seconds(1));
  } else {
    spdlog::flush_on(spdlog::level::info);
  }
}

void signalReady(int fd) {
  if (fd < 0) return;
  (void)!::write(fd, "ready\n", 6);
  ::close(fd);
}

ShutdownSignal::ShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a peer that goes away is an error return, not a crash
}

int ShutdownSignal::wait() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

int ShutdownSignal::waitFor(std::chrono::milliseconds timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{static_cast<time_t>(s.count()),
              static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout - s).count())};
  const int sig = ::sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

}  // namespace warren
