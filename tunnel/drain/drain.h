#pragma once
// Hitless upgrade, the old tunnel's side (README "Hitless upgrade"): on SIGTERM it
// stops taking new work and carries what it holds to its end or to a deadline.
// Pure decisions here; drain_runner.h does the waiting.
//
//   SIGTERM ─▶ leave ZDS, close telemetry and every in-pod listener (queued
//              connections migrate to the successor's sockets: tcp_migrate_req)
//          ─▶ GOAWAY to every HBONE peer (inbound: a shutdown notice first, so a
//              stream already on its way is still served)
//          ─▶ relay until no connection is left (and the notice has had time to
//              arrive), or until the deadline ─▶ close the rest and exit

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace warren::tunnel {

// How long a draining tunnel keeps relaying: --drain-seconds when given, else as
// Istio's ztunnel derives it from the pod's terminationGracePeriodSeconds (the
// TERMINATION_GRACE_PERIOD_SECONDS variable the DaemonSet sets): 5 s less than it,
// or 1 s less when it is 10 s or less, at least 1 s, so that the tunnel closes
// what is left itself (GOAWAY, FIN) before the kubelet's SIGKILL; 5 s without either.
// An unreadable variable is ignored (the 5 s default), said in *note.
std::chrono::seconds drainDeadline(std::optional<long> flagSeconds, const char* graceEnv, std::string* note = nullptr);

inline constexpr std::chrono::seconds kDefaultDrainDeadline{5};

struct DrainProgress {
  std::chrono::milliseconds elapsed{0};  // since the drain began
  size_t activeConnections = 0;          // app connections still relayed
  // Since the last HBONE shutdown notice went out; nullopt: none was sent.
  std::optional<std::chrono::milliseconds> sinceLastNotice;
};

struct DrainLimits {
  std::chrono::milliseconds deadline{kDefaultDrainDeadline};
  // A peer may have sent a stream before our notice reached it: one round trip
  // and its processing, generously.
  std::chrono::milliseconds noticeQuiet{500};
};

enum class DrainStep {
  Wait,      // connections (or a fresh notice) remain: keep relaying
  Done,      // nothing left: exit now
  Deadline,  // out of time: close what is left and exit
};

DrainStep judgeDrain(const DrainProgress& p, const DrainLimits& limits);

}  // namespace warren::tunnel
