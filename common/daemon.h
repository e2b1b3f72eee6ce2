#pragma once
// Process plumbing shared by warren-agent and warren-tunnel.

#include <chrono>
#include <string>

namespace warren {

// Logs to stderr with a compact pattern; level from --log-level. Warnings and
// errors are written at once. With `bufferInfo`, info and below (a waypoint's
// access line per request) are written in 64 KiB blocks at least once a second,
// as Envoy flushes its access logs, instead of one write(2) per line; a crash
// loses at most that second, a normal exit none.
void setupLogging(const std::string& level, const std::string& component, bool bufferInfo = false);

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
