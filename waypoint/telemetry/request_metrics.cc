#include "waypoint/telemetry/request_metrics.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <utility>

#include "common/utf8.h"

namespace warren::waypoint::telemetry {
namespace {

constexpr const char* kRequests = "istio_requests_total";
constexpr const char* kDuration = "istio_request_duration_milliseconds";
constexpr const char* kRequestBytes = "istio_request_bytes";
constexpr const char* kResponseBytes = "istio_response_bytes";
constexpr const char* kOverflow = "warren_waypoint_metric_series_overflow_total";
constexpr const char* kOverflowValue = "overflow";
constexpr const char* kJwtFailures = "warren_waypoint_jwt_failures_total";

// How much of a request's label set survives: all of it, the alerting labels only, or
// the response code only (see the header's "Cardinality").
enum class Fold { kNone, kAlerting, kCodeOnly };

// Sorted, unique, finite bounds.
std::vector<double> normalizeBuckets(std::vector<double> b) {
  b.erase(std::remove_if(b.begin(), b.end(), [](double v) { return !std::isfinite(v); }), b.end());
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  return b;
}

// Prometheus numbers: integers without a fraction, the shortest round-tripping form
// otherwise.
std::string formatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

// Appends `value` as label-value text: valid UTF-8, escaped (see sanitizeLabelValue).
void appendLabelValue(std::string& out, std::string_view value) {
  for (size_t i = 0; i < value.size();) {
    // Plain ASCII, the usual case, in one append.
    size_t run = i;
    while (run < value.size()) {
      const auto c = static_cast<unsigned char>(value[run]);
      if (c >= 0x80 || c == '\\' || c == '"' || c == '\n') break;
      ++run;
    }
    if (run > i) {
      out.append(value.substr(i, run - i));
      i = run;
      continue;
    }
    const size_t len = utf8SequenceLength(value, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD for one invalid byte
      ++i;
      continue;
    }
    if (len == 1) {
      switch (value[i]) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        default: out += value[i];
      }
    } else {
      out.append(value.substr(i, len));
    }
    i += len;
  }
}

void appendLabel(std::string& out, const char* name, std::string_view value, bool unknownWhenEmpty = true) {
  if (!out.empty()) out += ',';
  out += name;
  out += "=\"";
  appendLabelValue(out, value.empty() && unknownWhenEmpty ? std::string_view("unknown") : value);
  out += '"';
}

// Into `out` (cleared first), so the recording path can reuse one buffer.
void renderLabels(std::string& out, const RequestRecord& r, Fold fold) {
  // Folded labels read "overflow"; `keep` is the real value otherwise.
  const auto v = [fold](Fold keptUntil, std::string_view keep) -> std::string_view {
    return fold <= keptUntil ? keep : std::string_view(kOverflowValue);
  };
  constexpr Fold kIdentity = Fold::kNone;      // kept only when nothing is folded
  constexpr Fold kAlerting = Fold::kAlerting;  // kept in the first fold too
  const std::string code = fold == Fold::kCodeOnly && (r.responseCode < 0 || r.responseCode > 999)
                               ? std::string(kOverflowValue)
                               : std::to_string(r.responseCode);
  const std::string grpc = r.grpcStatus ? std::to_string(*r.grpcStatus) : "";

  out.clear();
  appendLabel(out, "reporter", RequestMetrics::kReporter);
  appendLabel(out, "source_workload", v(kIdentity, r.source.workload));
  appendLabel(out, "source_canonical_service", v(kIdentity, r.source.canonicalService));
  appendLabel(out, "source_canonical_revision", v(kIdentity, r.source.canonicalRevision));
  appendLabel(out, "source_workload_namespace", v(kIdentity, r.source.workloadNamespace));
  appendLabel(out, "source_principal", v(kIdentity, r.source.principal));
  appendLabel(out, "source_app", v(kIdentity, r.source.app));
  appendLabel(out, "source_version", v(kIdentity, r.source.version));
  appendLabel(out, "source_cluster", v(kIdentity, r.source.cluster));
  appendLabel(out, "destination_workload", v(kIdentity, r.destination.workload));
  appendLabel(out, "destination_workload_namespace", v(kIdentity, r.destination.workloadNamespace));
  appendLabel(out, "destination_principal", v(kIdentity, r.destination.principal));
  appendLabel(out, "destination_app", v(kIdentity, r.destination.app));
  appendLabel(out, "destination_version", v(kIdentity, r.destination.version));
  appendLabel(out, "destination_service", v(kIdentity, r.destinationService));
  appendLabel(out, "destination_canonical_service", v(kIdentity, r.destination.canonicalService));
  appendLabel(out, "destination_canonical_revision", v(kIdentity, r.destination.canonicalRevision));
  appendLabel(out, "destination_service_name", v(kIdentity, r.destinationServiceName));
  appendLabel(out, "destination_service_namespace", v(kIdentity, r.destinationServiceNamespace));
  appendLabel(out, "destination_cluster", v(kIdentity, r.destination.cluster));
  appendLabel(out, "request_protocol", v(kAlerting, r.requestProtocol));
  appendLabel(out, "response_code", code);
  appendLabel(out, "grpc_response_status", v(kAlerting, grpc), /*unknownWhenEmpty=*/false);
  appendLabel(out, "response_flags", v(kAlerting, r.responseFlags));
  appendLabel(out, "connection_security_policy", v(kAlerting, r.connectionSecurityPolicy));
}

void appendHeader(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

}  // namespace

std::string sanitizeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  appendLabelValue(out, value);
  return out;
}

RequestMetrics::RequestMetrics(RequestMetricsOptions options)
    : maxSeries_(options.maxSeries),
      durationBuckets_(normalizeBuckets(std::move(options.durationBucketsMs))),
      sizeBuckets_(normalizeBuckets(std::move(options.sizeBuckets))) {}

std::string RequestMetrics::labelText(const RequestRecord& rec) {
  std::string out;
  renderLabels(out, rec, Fold::kNone);
  return out;
}

RequestMetrics::Series& RequestMetrics::findOrCreate(const std::string& labels) {
  auto it = series_.find(labels);
  if (it != series_.end()) return it->second;
  Series s;
  s.labels = std::make_shared<const std::string>(labels);
  s.buckets.assign(durationBuckets_.size() + 2 * sizeBuckets_.size(), 0);
  return series_.emplace(labels, std::move(s)).first->second;
}

RequestMetrics::Series& RequestMetrics::find(const RequestRecord& rec, const std::string& labels) {
  if (auto it = series_.find(labels); it != series_.end()) return it->second;
  if (series_.size() - overflowSeries_ < maxSeries_) return findOrCreate(labels);

  ++overflowed_;
  std::string folded;
  for (Fold fold : {Fold::kAlerting, Fold::kCodeOnly}) {
    renderLabels(folded, rec, fold);
    if (auto it = series_.find(folded); it != series_.end()) return it->second;
    // The code-only fold is bounded by the response codes (1001 values) on its own.
    if (fold == Fold::kCodeOnly || overflowSeries_ < kMaxOverflowSeries) break;
  }
  ++overflowSeries_;
  return findOrCreate(folded);
}

void RequestMetrics::observe(Series& s, const RequestRecord& rec) {
  const double ms = std::max(0.0, std::chrono::duration<double, std::milli>(rec.duration).count());
  ++s.requests;
  s.durationSumMs += ms;
  s.requestBytesSum += rec.requestBytes;
  s.responseBytesSum += rec.responseBytes;
  // A value counts in the first bucket whose bound is >= it ("le").
  const auto bucket = [&s](const std::vector<double>& bounds, size_t offset, double value) {
    auto it = std::lower_bound(bounds.begin(), bounds.end(), value);
    if (it != bounds.end()) ++s.buckets[offset + static_cast<size_t>(it - bounds.begin())];
  };
  bucket(durationBuckets_, 0, ms);
  bucket(sizeBuckets_, durationBuckets_.size(), static_cast<double>(rec.requestBytes));
  bucket(sizeBuckets_, durationBuckets_.size() + sizeBuckets_.size(), static_cast<double>(rec.responseBytes));
}

void RequestMetrics::record(const RequestRecord& rec) {
  // The labels are rendered before taking the lock, into a buffer each thread reuses:
  // no allocation per request once it has grown.
  thread_local std::string labels;
  renderLabels(labels, rec, Fold::kNone);
  std::lock_guard lock(mu_);
  observe(find(rec, labels), rec);
  if (!rec.jwtFailure.empty()) jwtFailures_[rec.jwtFailure]++;
}

size_t RequestMetrics::seriesCount() const {
  std::lock_guard lock(mu_);
  return series_.size();
}

uint64_t RequestMetrics::overflowCount() const {
  std::lock_guard lock(mu_);
  return overflowed_;
}

std::string RequestMetrics::render() const {
  std::string out;
  appendTo(out);
  return out;
}

void RequestMetrics::appendTo(std::string& out) const {
  std::vector<Series> snapshot;
  uint64_t overflowed = 0;
  std::map<std::string, uint64_t> jwtFailures;
  {
    std::lock_guard lock(mu_);
    snapshot.reserve(series_.size());
    for (const auto& entry : series_) snapshot.push_back(entry.second);
    overflowed = overflowed_;
    jwtFailures = jwtFailures_;
  }
  std::sort(snapshot.begin(), snapshot.end(), [](const Series& a, const Series& b) { return *a.labels < *b.labels; });

  // Every line repeats its series' labels: size the text once instead of growing it
  // through ~log2(size) copies (at the series cap it is hundreds of megabytes).
  size_t size = 4096;
  const size_t linesPerSeries = 1 + (durationBuckets_.size() + 3) + 2 * (sizeBuckets_.size() + 3);
  for (const Series& s : snapshot) size += linesPerSeries * (s.labels->size() + 80);
  out.reserve(out.size() + size);
  appendHeader(out, kRequests, "The total number of HTTP and gRPC requests handled by the waypoint.", "counter");
  for (const Series& s : snapshot)
    out.append(kRequests).append("{").append(*s.labels).append("} ").append(std::to_string(s.requests)).append("\n");

  struct Histogram {
    const char* name;
    const char* help;
    const std::vector<double>* bounds;
    size_t offset;
    double (*sum)(const Series&);
  };
  const Histogram histograms[] = {
      {kDuration, "The duration of requests, in milliseconds.", &durationBuckets_, 0,
       [](const Series& s) { return s.durationSumMs; }},
      {kRequestBytes, "The size of requests, headers and body, in bytes.", &sizeBuckets_, durationBuckets_.size(),
       [](const Series& s) { return static_cast<double>(s.requestBytesSum); }},
      {kResponseBytes, "The size of responses, headers and body, in bytes.", &sizeBuckets_,
       durationBuckets_.size() + sizeBuckets_.size(),
       [](const Series& s) { return static_cast<double>(s.responseBytesSum); }},
  };
  std::vector<std::string> les;
  for (const Histogram& h : histograms) {
    appendHeader(out, h.name, h.help, "histogram");
    les.clear();
    for (double bound : *h.bounds) les.push_back(formatNumber(bound));
    for (const Series& s : snapshot) {
      const std::string& labels = *s.labels;
      uint64_t cumulative = 0;
      for (size_t i = 0; i < les.size(); ++i) {
        cumulative += s.buckets[h.offset + i];
        out.append(h.name).append("_bucket{").append(labels).append(",le=\"").append(les[i]).append("\"} ");
        out.append(std::to_string(cumulative)).append("\n");
      }
      out.append(h.name).append("_bucket{").append(labels).append(",le=\"+Inf\"} ");
      out.append(std::to_string(s.requests)).append("\n");
      out.append(h.name).append("_sum{").append(labels).append("} ").append(formatNumber(h.sum(s))).append("\n");
      out.append(h.name).append("_count{").append(labels).append("} ").append(std::to_string(s.requests));
      out.append("\n");
    }
  }

  appendHeader(out, kOverflow,
               "Requests recorded in an overflow series because the waypoint's metric series limit was reached.",
               "counter");
  out.append(kOverflow).append(" ").append(std::to_string(overflowed)).append("\n");

  appendHeader(out, kJwtFailures, "Requests answered 401 because their JWT failed RequestAuthentication, by reason.",
               "counter");
  for (const auto& [reason, count] : jwtFailures)
    out.append(kJwtFailures)
        .append("{reason=\"")
        .append(sanitizeLabelValue(reason))
        .append("\"} ")
        .append(std::to_string(count))
        .append("\n");
}

void installMetricsRoutes(warren::telemetry::HttpServer& server, const warren::telemetry::TcpMetrics& tcp,
                          const RequestMetrics& requests) {
  auto handler = [&tcp, &requests](const warren::telemetry::HttpRequest&) {
    warren::telemetry::HttpResponse r;
    r.contentType = "text/plain; version=0.0.4";
    r.body = tcp.render();
    requests.appendTo(r.body);
    return r;
  };
  server.route("GET", "/metrics", handler);
  server.route("GET", "/stats/prometheus", handler);
}

}  // namespace warren::waypoint::telemetry
