#pragma once
// Process plumbing shared by warren-agent and warren-tunnel.

#include <chrono>
#include <string>

namespace warren {

// Logs to stderr with a compact pattern; level from --log-level.
void setupLogging(const std::string& level, const std::string& component);

// Readiness signal: writes "ready\n" to the fd the parent passed (--ready-fd),
// then closes it. Tests and the demo wait on it instead of sleeping.
void signalReady(int fd);

// Blocks SIGINT/SIGTERM/SIGHUP in every thread and waits for one of them (SIGHUP
// asks for a reload; the caller decides what that means and waits again).
class ShutdownSignal {
 public:
  ShutdownSignal();  // call before starting threads, so they inherit the mask
  int wait();        // returns the signal number
  // As wait(), but gives up after timeout and returns 0.
  int waitFor(std::chrono::milliseconds timeout);
};

}  // namespace warren
