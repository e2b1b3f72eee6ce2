#pragma once
// Istio's standard HTTP request metrics for the waypoint, in the Prometheus text
// exposition format 0.0.4, reported with reporter="waypoint" as Istio's waypoint
// (Envoy) reports them, so Istio's dashboards, Kiali and existing alerts read Warren's
// waypoint unchanged.
//
// Families (one series per distinct label set):
//   istio_requests_total                 counter
//   istio_request_duration_milliseconds  histogram (milliseconds)
//   istio_request_bytes                  histogram (request headers + body)
//   istio_response_bytes                 histogram (response headers + body)
//   warren_waypoint_metric_series_overflow_total  counter, unlabelled (see "Cardinality")
//   warren_waypoint_jwt_failures_total   counter, label reason (jwt::toString's names and
//                                        issuer_not_configured, invalid_policy, jwks_unavailable):
//                                        requests answered 401 by RequestAuthentication
//
// Labels, in this order — Istio's standard label set in the order istio/proxy's own
// waypoint test expects (testdata/metric/server_waypoint_proxy_request_total.yaml.tmpl)
// and istio.io/latest/docs/reference/config/metrics lists:
//   reporter ("waypoint"), source_workload, source_canonical_service,
//   source_canonical_revision, source_workload_namespace, source_principal, source_app,
//   source_version, source_cluster, destination_workload,
//   destination_workload_namespace, destination_principal, destination_app,
//   destination_version, destination_service, destination_canonical_service,
//   destination_canonical_revision, destination_service_name,
//   destination_service_namespace, destination_cluster, request_protocol,
//   response_code, grpc_response_status, response_flags, connection_security_policy
// An empty value renders as "unknown" (Istio's choice), except grpc_response_status,
// which is "" for non-gRPC requests as in Istio.
//
// Buckets: Istio's proxies have no bucket list of their own; its histograms use
// Envoy's defaults (Stats::HistogramSettingsImpl::defaultBuckets) unless a
// sidecar.istio.io/statsHistogramBuckets annotation overrides them, and that is true
// of the byte histograms too (their real scrapes show le="0.5" ... le="3600000",
// istio/istio issues 20536, 22007). So all three default to
//   0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
//   300000, 600000, 1800000, 3600000
// and both lists are options.
//
// Cardinality: series are never forgotten, so past `maxSeries` label sets a request
// with a new label set is folded into an overflow series that keeps reporter,
// response_code, request_protocol, grpc_response_status, response_flags and
// connection_security_policy (what alerts select on) and sets every other label to
// "overflow". Should even those exceed kMaxOverflowSeries, the fold keeps reporter and
// response_code only. Every folded request counts in
// warren_waypoint_metric_series_overflow_total. Worst case:
// maxSeries + 2 * kMaxOverflowSeries series.
//
// The cap is really a scrape-size budget. A series costs ~1.5 KB of memory but renders
// 1 + 3 * (buckets + 3) = 67 lines that each repeat its ~900 bytes of labels: ~62 KB of
// text per series with the default buckets. Measured: 100 series render 6 MB in ~30 ms;
// 10,000 series render 626 MB in ~3 s, held in memory while it is served: far past
// what a scrape should carry. Hence the default of 2,000 (~125 MB worst case); raise
// it knowingly. Recording costs ~1-3 us (rendering the label text, a hash lookup).
//
// Label values are escaped as the text format requires (backslash, double quote,
// newline) and made valid UTF-8 (invalid bytes become U+FFFD), since one bad label
// value makes Prometheus reject the whole scrape and some values (a service host
// taken from the Host header) come from the wire.
//
// Thread-safety: every method may be called from any thread. The waypoint's loop
// records (one mutex, a label rendering and a map lookup); the metrics server renders:
// it copies the counts under the mutex and formats the text without it, so a large
// scrape never stalls the data path.
//
// Usage in the waypoint (the same metrics port as the tunnel's, 15020):
//   warren::telemetry::TcpMetrics tcp;           // outlive the Telemetry
//   waypoint::telemetry::RequestMetrics requests;
//   auto t = warren::telemetry::start(options, callbacks, tcp);
//   if (!t) return t.error();
//   waypoint::telemetry::installMetricsRoutes((*t)->metrics(), tcp, requests);
//   ... per request, on the loop:  requests.record(rec); logRequest(rec);

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "telemetry/http_server.h"
#include "telemetry/metrics.h"
#include "waypoint/telemetry/request_record.h"

namespace warren::waypoint::telemetry {

// Envoy's default histogram buckets, which Istio's standard metrics use.
inline constexpr std::array<double, 19> kEnvoyDefaultBuckets = {
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};

struct RequestMetricsOptions {
  // Distinct label sets before new ones are folded into overflow series (see
  // "Cardinality" above for why not more).
  size_t maxSeries = 2000;
  // Upper bounds ("le") of the histograms' finite buckets; +Inf is always added.
  // Sorted, deduplicated, non-finite values dropped.
  std::vector<double> durationBucketsMs{kEnvoyDefaultBuckets.begin(), kEnvoyDefaultBuckets.end()};
  std::vector<double> sizeBuckets{kEnvoyDefaultBuckets.begin(), kEnvoyDefaultBuckets.end()};
};

class RequestMetrics {
 public:
  static constexpr size_t kMaxOverflowSeries = 1000;
  static constexpr const char* kReporter = "waypoint";

  explicit RequestMetrics(RequestMetricsOptions options = {});

  // One finished request: istio_requests_total += 1 and one observation in each
  // histogram (duration in milliseconds, requestBytes, responseBytes).
  void record(const RequestRecord& rec);

  // The whole exposition, content type "text/plain; version=0.0.4". Deterministic:
  // the four istio_* families (series sorted by their label text), then the overflow
  // counter. Every family's HELP and TYPE are present even with no series. Holds the
  // lock only to copy the counts.
  std::string render() const;
  // render(), appended to `out` (no copy of a large exposition).
  void appendTo(std::string& out) const;

  size_t seriesCount() const;      // overflow series included
  uint64_t overflowCount() const;  // requests folded into overflow series

  // The series labels of a request exactly as rendered, without braces:
  // reporter="waypoint",source_workload="...",... (exposed for tests and debugging).
  static std::string labelText(const RequestRecord& rec);

 private:
  struct Series {
    std::shared_ptr<const std::string> labels;  // rendered once, shared with render snapshots
    uint64_t requests = 0;
    double durationSumMs = 0;
    uint64_t requestBytesSum = 0, responseBytesSum = 0;
    // Non-cumulative bucket counts: durations, then request sizes, then response
    // sizes; a value above every bound lands in no bucket (only in +Inf = requests).
    std::vector<uint64_t> buckets;
  };

  // The series for rec, whose unfolded label text is `labels`: created, or an overflow
  // series past the cap. Caller holds mu_.
  Series& find(const RequestRecord& rec, const std::string& labels);
  Series& findOrCreate(const std::string& labels);
  void observe(Series& s, const RequestRecord& rec);

  const size_t maxSeries_;
  const std::vector<double> durationBuckets_, sizeBuckets_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Series> series_;  // by label text
  size_t overflowSeries_ = 0;
  uint64_t overflowed_ = 0;
  std::map<std::string, uint64_t> jwtFailures_;  // by reason: a small fixed set
};

// Serves `tcp` and `requests` together on the metrics server's GET /metrics and
// GET /stats/prometheus (replacing the routes telemetry::start installed for `tcp`
// alone). Both must outlive the server.
void installMetricsRoutes(warren::telemetry::HttpServer& server, const warren::telemetry::TcpMetrics& tcp,
                          const RequestMetrics& requests);

// Prometheus label-value text for `value`: valid UTF-8 (each invalid byte replaced by
// U+FFFD), then backslash, double quote and newline escaped.
std::string sanitizeLabelValue(std::string_view value);

}  // namespace warren::waypoint::telemetry
