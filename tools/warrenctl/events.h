#pragma once
// Pure decoding and filtering of warren_events records for `warrenctl trace`: the
// options, event -> view -> one text line or one JSON line. trace.cc does the ring
// buffer I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "tools/warrenctl/decode.h"
#include "warren_abi.h"

namespace warren::ctl {

struct TraceOptions {
  std::string pod;                    // "" = every pod; else as `pod show` takes it
  std::optional<uint16_t> port;       // the (original) destination port
  std::optional<uint64_t> count;      // stop after this many matching events
  std::optional<uint64_t> timeoutMs;  // stop after this long
};

// `--pod X --port N --count N --timeout SECONDS` (also --opt=value). Anything else
// is an error naming it.
Result<TraceOptions> parseTraceOptions(const std::vector<std::string>& args);

// The label WARREN_EVENT_KINDS gives a kind ("captured_outbound"), "kind N" if unknown.
std::string eventKindLabel(uint32_t kind);
// What the kind means for the connection, one phrase.
std::string eventReason(uint32_t kind);

struct EventView {
  uint64_t tsNs = 0;    // CLOCK_MONOTONIC, as bpf_ktime_get_ns()
  uint64_t unixNs = 0;  // the same instant on the wall clock
  uint64_t netnsCookie = 0;
  uint32_t kind = 0;
  uint32_t family = 0;
  std::string ns, name;      // "" when the pod is unknown (no warren_pod_meta entry)
  std::string srcIp, dstIp;  // "" when the event has no such address
  uint16_t srcPort = 0, dstPort = 0;
};

// monoToUnixNs: CLOCK_REALTIME - CLOCK_MONOTONIC. pod: what the cookie resolved to, or null.
EventView decodeEvent(const warren_event& e, int64_t monoToUnixNs, const PodView* pod);
bool eventMatches(const TraceOptions& o, const warren_event& e, const PodView* pod);

std::string formatEventTime(uint64_t unixNs);  // "2025-01-31T12:00:00.123456Z"
nlohmann::ordered_json eventJson(const EventView& e);
std::string eventHeaderLine();
std::string eventLine(const EventView& e);  // no trailing newline

}  // namespace warren::ctl
