#pragma once
// Istio-compatible TCP metrics, rendered in the Prometheus text exposition format
// 0.0.4, so Istio's dashboards and Kiali read the tunnel like they read ztunnel.
//
// Thread-safety: every method may be called from any thread. The data path records
// from the loop thread; the metrics HTTP server renders from its own. Recording takes
// one uncontended mutex and a map lookup; rendering holds the mutex only while it
// concatenates pre-rendered label text.
//
// Series: one per distinct TcpLabels, each rendered under all four istio_tcp_*
// counters (a series that only ever opened shows 0 bytes, which keeps rate() sane).
// Series are never forgotten, hence the cap: past `maxSeries` label sets a new one
// is dropped and counted in warren_metrics_series_dropped_total, so a label explosion
// (say, a port scan with unique destinations) costs bounded memory.

#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace warren::telemetry {

// Istio's standard TCP labels, under Istio's names. Empty values are rendered as
// "unknown", as Istio does. Use the same labels when a connection opens and when it
// closes, or its open and close land in different series.
struct TcpLabels {
  std::string reporter;  // "source" (the client side's tunnel) | "destination"
  std::string source_workload;
  std::string source_workload_namespace;
  std::string source_principal;  // "spiffe://cluster.local/ns/X/sa/Y"
  std::string destination_workload;
  std::string destination_workload_namespace;
  std::string destination_principal;
  std::string destination_service;         // "name.ns.svc.cluster.local"
  std::string connection_security_policy;  // "mutual_tls" | "none"
  std::string response_flags;              // "-" when fine; "DENIED", "CONNECT_FAILED"...

  auto operator<=>(const TcpLabels&) const = default;
};

// Prometheus label-value escaping: backslash, double quote and newline.
std::string escapeLabelValue(std::string_view value);

// Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool isValidMetricName(std::string_view name);

class TcpMetrics {
 public:
  static constexpr size_t kDefaultMaxSeries = 10000;
  explicit TcpMetrics(size_t maxSeries = kDefaultMaxSeries);

  // istio_tcp_connections_opened_total += 1.
  void connectionOpened(const TcpLabels& labels);
  // istio_tcp_connections_closed_total += 1, plus the connection's final byte counts
  // (see addBytes for which is which).
  void connectionClosed(const TcpLabels& labels, uint64_t sentBytes, uint64_t receivedBytes);
  // Byte counters alone, for reporting long connections while they run (then pass 0
  // bytes to connectionClosed for what was already added). Istio's meaning:
  //   sentBytes     -> istio_tcp_sent_bytes_total:     sent during the response, i.e.
  //                    destination -> client (ConnectionRecord::bytesReceived)
  //   receivedBytes -> istio_tcp_received_bytes_total: received during the request,
  //                    i.e. client -> destination (ConnectionRecord::bytesSent)
  void addBytes(const TcpLabels& labels, uint64_t sentBytes, uint64_t receivedBytes);

  // Extra unlabelled metrics read at render time, for the tunnel's own state
  // ("warren_tunnel_active_connections"). The callback runs on the rendering thread,
  // without TcpMetrics' lock held, so it must be thread-safe (an atomic load is
  // ideal). Errors: an invalid name, or a name already registered.
  Status addCounter(std::string name, std::string help, std::function<double()> read);
  Status addGauge(std::string name, std::string help, std::function<double()> read);

  // Several counters whose values come from one read (the fields of one BPF map,
  // walked once per scrape rather than once per field). `read` returns one value
  // per member, in order; a short answer renders the missing members as 0. Same
  // thread-safety rule as addCounter. Errors as addCounter, for any member (then
  // none is registered).
  struct GroupMember {
    std::string name;
    std::string help;
  };
  Status addCounterGroup(std::vector<GroupMember> members, std::function<std::vector<double>()> read);

  // The whole exposition, content type "text/plain; version=0.0.4". Deterministic:
  // the four istio_tcp_* families with series sorted by label values, then
  // warren_metrics_series_dropped_total, then the extra metrics sorted by name.
  std::string render() const;

  size_t seriesCount() const;
  uint64_t droppedSeries() const;

 private:
  struct Series {
    std::string labelText;  // "{reporter=\"source\",...}", rendered once at creation
    uint64_t opened = 0, closed = 0, sent = 0, received = 0;
  };
  using GroupRead = std::function<std::vector<double>()>;
  struct Extra {
    std::string type;  // "counter" | "gauge"
    std::string help;
    std::function<double()> read;            // a single metric, or
    std::shared_ptr<const GroupRead> group;  // a group member: value `index` of one read per render
    size_t index = 0;
  };

  // The series for labels, created if the cap allows; nullptr (and one more drop
  // counted) if not. Caller holds mu_.
  Series* find(const TcpLabels& labels);
  Status addExtra(std::string type, std::string name, std::string help, std::function<double()> read);
  // Whether `name` may be registered; caller holds mu_.
  Status checkNewName(const std::string& name) const;

  const size_t maxSeries_;
  mutable std::mutex mu_;
  std::map<TcpLabels, Series> series_;
  uint64_t dropped_ = 0;
  std::map<std::string, Extra> extras_;
};

}  // namespace warren::telemetry
