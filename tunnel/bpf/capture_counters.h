#pragma once
// The kernel's capture counters (warren_counters, per pod and per CPU, written by
// the programs in bpf/) summed over the node, as the tunnel's metrics: what the
// programs refused or left uncaptured is visible where operators already look.

#include <string>

#include "common/result.h"
#include "telemetry/metrics.h"
#include "warren_abi.h"

namespace warren::tunnel {

// Every enrolled pod's counters, all CPUs, summed; read from the agent's pins.
Result<warren_counters> readCaptureTotals(const std::string& pinRoot);

// warren_capture_<field>_total for each field of warren_counters, read at every
// scrape (0 while the agent's maps are not there).
Status registerCaptureMetrics(telemetry::TcpMetrics& metrics, const std::string& pinRoot);

}  // namespace warren::tunnel
