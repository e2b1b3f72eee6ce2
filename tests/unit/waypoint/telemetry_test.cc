// The waypoint's request telemetry: Istio's request metrics (labels, order, buckets,
// escaping, the series cap), checked through a small Prometheus text-format parser
// that also evaluates the alert selectors banks run; the metrics port wiring; and the
// JSON access log.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "telemetry/admin.h"
#include "tests/unit/telemetry/http_client.h"
#include "waypoint/telemetry/request_log.h"
#include "waypoint/telemetry/request_metrics.h"

namespace warren::waypoint::telemetry {
namespace {

// ---------------------------------------------------------------------------------
// A Prometheus text-format (0.0.4) checker: what a scrape would reject, it reports.

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family -> counter | histogram | ...
  std::vector<Sample> samples;
  std::vector<std::string> errors;  // empty: the text is valid
};

bool isMetricName(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    if (!(std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' || (i > 0 && std::isdigit(c))))
      return false;
  }
  return true;
}

bool isLabelName(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    if (!(std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (i > 0 && std::isdigit(c)))) return false;
  }
  return true;
}

// Valid UTF-8: sanitizing replaces nothing (it adds no U+FFFD).
size_t countReplacements(std::string_view s) {
  size_t n = 0;
  for (size_t at = s.find("\xEF\xBF\xBD"); at != std::string_view::npos; at = s.find("\xEF\xBF\xBD", at + 3)) ++n;
  return n;
}
bool isValidUtf8(std::string_view s) { return countReplacements(sanitizeLabelValue(s)) == countReplacements(s); }

std::optional<double> parseValue(const std::string& v) {
  if (v == "+Inf") return INFINITY;
  if (v == "-Inf") return -INFINITY;
  if (v == "NaN") return NAN;
  try {
    size_t used = 0;
    const double d = std::stod(v, &used);
    if (used != v.size()) return std::nullopt;
    return d;
  } catch (...) {
    return std::nullopt;
  }
}

// The family a sample belongs to: itself, or the histogram it is a _bucket/_sum/_count of.
std::string familyOf(const std::string& name, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return name;
}

Exposition parseExposition(const std::string& text) {
  Exposition e;
  auto fail = [&e](size_t line, const std::string& why) {
    e.errors.push_back("line " + std::to_string(line) + ": " + why);
  };
  if (text.empty() || text.back() != '\n') e.errors.push_back("the text must end with a newline");
  std::set<std::string> helps, seriesSeen, familiesDone;
  std::string currentFamily;
  std::istringstream in(text);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) {
      fail(n, "empty line");
      continue;
    }
    if (line[0] == '#') {
      std::istringstream ls(line);
      std::string hash, kind, name;
      ls >> hash >> kind >> name;
      if (kind != "HELP" && kind != "TYPE") continue;  // a comment
      if (!isMetricName(name)) fail(n, "bad metric name in " + kind);
      if (kind == "HELP") {
        if (!helps.insert(name).second) fail(n, "second HELP for " + name);
      } else {
        std::string type;
        ls >> type;
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (!kTypes.count(type)) fail(n, "unknown type " + type);
        if (e.types.count(name)) fail(n, "second TYPE for " + name);
        if (familiesDone.count(name) || currentFamily == name) fail(n, "TYPE after samples of " + name);
        e.types[name] = type;
      }
      continue;
    }
    // name{labels} value
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!isMetricName(s.name)) fail(n, "bad metric name \"" + s.name + "\"");
    std::string canonicalLabels;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) break;
        const std::string label = line.substr(i, eq - i);
        if (!isLabelName(label)) fail(n, "bad label name \"" + label + "\"");
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') {
          fail(n, "label value not quoted");
          break;
        }
        ++i;
        std::string value;
        bool closed = false;
        while (i < line.size()) {
          const char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i >= line.size()) break;
            const char esc = line[i++];
            if (esc == '\\')
              value += '\\';
            else if (esc == '"')
              value += '"';
            else if (esc == 'n')
              value += '\n';
            else
              fail(n, std::string("bad escape \\") + esc);
          } else {
            value += c;
          }
        }
        if (!closed) fail(n, "unterminated label value");
        if (!isValidUtf8(value)) fail(n, "label " + label + " is not valid UTF-8");
        if (!s.labels.emplace(label, value).second) fail(n, "duplicate label " + label);
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size() || line[i] != '}') fail(n, "unterminated label set");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      fail(n, "no space before the value");
      continue;
    }
    const auto value = parseValue(line.substr(i + 1));
    if (!value) fail(n, "bad value \"" + line.substr(i + 1) + "\"");
    s.value = value.value_or(0);

    const std::string family = familyOf(s.name, e.types);
    if (!e.types.count(family)) fail(n, "sample of " + family + " before its TYPE");
    if (family != currentFamily) {
      if (familiesDone.count(family)) fail(n, "samples of " + family + " are not contiguous");
      if (!currentFamily.empty()) familiesDone.insert(currentFamily);
      currentFamily = family;
    }
    for (const auto& [k, v] : s.labels) canonicalLabels += k + "=" + v + "\x1f";
    if (!seriesSeen.insert(s.name + "{" + canonicalLabels).second) fail(n, "duplicate series " + line);
    e.samples.push_back(std::move(s));
  }

  // Histograms: per series, le ascending and ending with +Inf, cumulative counts,
  // +Inf == _count, and a _sum.
  struct Hist {
    std::vector<std::pair<double, double>> buckets;  // le, count
    std::optional<double> sum, count;
  };
  std::map<std::string, Hist> hists;
  for (const Sample& s : e.samples) {
    const std::string family = familyOf(s.name, e.types);
    if (e.types[family] != "histogram") continue;
    auto labels = s.labels;
    const std::string le = labels.count("le") ? labels["le"] : "";
    labels.erase("le");
    std::string key = family + "{";
    for (const auto& [k, v] : labels) key += k + "=" + v + ",";
    Hist& h = hists[key];
    if (s.name == family + "_bucket") {
      auto bound = parseValue(le);
      if (!bound) e.errors.push_back(key + ": bad le \"" + le + "\"");
      h.buckets.emplace_back(bound.value_or(NAN), s.value);
    } else if (s.name == family + "_sum") {
      h.sum = s.value;
    } else if (s.name == family + "_count") {
      h.count = s.value;
    } else {
      e.errors.push_back(s.name + ": a histogram sample that is no _bucket, _sum or _count");
    }
  }
  for (const auto& [key, h] : hists) {
    if (h.buckets.empty() || !std::isinf(h.buckets.back().first)) e.errors.push_back(key + ": no +Inf bucket last");
    for (size_t i = 1; i < h.buckets.size(); ++i) {
      if (!(h.buckets[i].first > h.buckets[i - 1].first)) e.errors.push_back(key + ": le not increasing");
      if (h.buckets[i].second < h.buckets[i - 1].second) e.errors.push_back(key + ": buckets not cumulative");
    }
    if (!h.sum) e.errors.push_back(key + ": no _sum");
    if (!h.count)
      e.errors.push_back(key + ": no _count");
    else if (!h.buckets.empty() && h.buckets.back().second != *h.count)
      e.errors.push_back(key + ": +Inf bucket differs from _count");
  }
  return e;
}

// A PromQL instant-vector selector, name{label op "value", ...} with =, !=, =~, !~
// (regexes fully anchored, a missing label reads ""), over the parsed samples.
std::vector<Sample> select(const Exposition& e, const std::string& selector) {
  static const std::regex kSelector(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$)");
  static const std::regex kMatcher(R"(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*\"([^\"]*)\"\s*)");
  std::smatch m;
  if (!std::regex_match(selector, m, kSelector)) throw std::runtime_error("bad selector " + selector);
  const std::string name = m[1];
  struct Matcher {
    std::string label, op, value;
  };
  std::vector<Matcher> matchers;
  const std::string body = m[2];
  for (std::sregex_iterator it(body.begin(), body.end(), kMatcher), end; it != end; ++it)
    matchers.push_back({(*it)[1], (*it)[2], (*it)[3]});
  std::vector<Sample> out;
  for (const Sample& s : e.samples) {
    if (s.name != name) continue;
    bool ok = true;
    for (const Matcher& mt : matchers) {
      auto it = s.labels.find(mt.label);
      const std::string v = it == s.labels.end() ? "" : it->second;
      if (mt.op == "=")
        ok = v == mt.value;
      else if (mt.op == "!=")
        ok = v != mt.value;
      else if (mt.op == "=~")
        ok = std::regex_match(v, std::regex(mt.value));
      else
        ok = !std::regex_match(v, std::regex(mt.value));
      if (!ok) break;
    }
    if (ok) out.push_back(s);
  }
  return out;
}

double sumOf(const std::vector<Sample>& samples) {
  double total = 0;
  for (const Sample& s : samples) total += s.value;
  return total;
}

std::string errorsOf(const Exposition& e) {
  std::string out;
  for (const auto& err : e.errors) out += err + "\n";
  return out;
}

// The checker itself: each of these is something a scrape would reject or misread.
TEST(PrometheusChecker, RejectsWhatAScrapeWould) {
  const std::string head = "# HELP h x\n# TYPE h histogram\n";
  const std::string good = head +
                           "h_bucket{a=\"1\",le=\"1\"} 1\nh_bucket{a=\"1\",le=\"+Inf\"} 2\n"
                           "h_sum{a=\"1\"} 3\nh_count{a=\"1\"} 2\n";
  EXPECT_TRUE(parseExposition(good).errors.empty()) << errorsOf(parseExposition(good));
  const std::vector<std::string> bad = {
      good.substr(0, good.size() - 1),                                               // no final newline
      "c{a=\"1\"} 1\n",                                                              // no TYPE
      "# TYPE c counter\nc{a=\"1\"} 1\nc{a=\"1\"} 2\n",                              // duplicate series
      "# TYPE c counter\nc{a=\"x\\q\"} 1\n",                                         // bad escape
      "# TYPE c counter\nc{a=\"\xff\"} 1\n",                                         // not UTF-8
      "# TYPE c counter\nc{a=1} 1\n",                                                // unquoted
      "# TYPE c counter\nc{a=\"1\",a=\"2\"} 1\n",                                    // duplicate label
      "# TYPE c counter\nc{1a=\"1\"} 1\n",                                           // bad label name
      "# TYPE c counter\nc{a=\"1\"} one\n",                                          // bad value
      "# TYPE c counter\n# TYPE d counter\nc 1\nd 1\nc 2\n",                         // not contiguous
      head + "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",  // not cumulative
      head + "h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",                           // no +Inf
      head + "h_bucket{le=\"+Inf\"} 1\nh_count 1\n",                                 // no _sum
      head + "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",                        // +Inf != _count
      head + "h_bucket{le=\"5\"} 0\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n",
  };
  for (const std::string& text : bad) EXPECT_FALSE(parseExposition(text).errors.empty()) << text;
}

// ---------------------------------------------------------------------------------

RequestRecord productpageToReviews() {
  RequestRecord r;
  r.startTime = std::chrono::system_clock::time_point(std::chrono::milliseconds(1714564800123));
  r.duration = std::chrono::milliseconds(12);
  r.method = "GET";
  r.path = "/reviews/0";
  r.authority = "reviews:9080";
  r.httpVersion = "HTTP/1.1";
  r.requestProtocol = "http";
  r.userAgent = "curl/8.5.0";
  r.requestId = "5f2b7a4e-1c0d-4f7e-9a3b-2d6c8e1f0a9b";
  r.requestBytes = 300;
  r.responseBytes = 1500;
  r.responseCode = 200;
  r.responseFlags = kFlagNone;
  r.responseCodeDetails = "via_upstream";
  r.upstreamHost = "10.244.1.7:9080";
  r.connectionSecurityPolicy = "mutual_tls";
  r.source = {.principal = "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage",
              .workload = "productpage-v1",
              .workloadNamespace = "bookinfo",
              .app = "productpage",
              .version = "v1",
              .cluster = "Kubernetes",
              .canonicalService = "productpage",
              .canonicalRevision = "v1"};
  r.destination = {.principal = "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews",
                   .workload = "reviews-v2",
                   .workloadNamespace = "bookinfo",
                   .app = "reviews",
                   .version = "v2",
                   .cluster = "Kubernetes",
                   .canonicalService = "reviews",
                   .canonicalRevision = "v2"};
  r.destinationService = "reviews.bookinfo.svc.cluster.local";
  r.destinationServiceName = "reviews";
  r.destinationServiceNamespace = "bookinfo";
  r.destinationPort = 9080;
  return r;
}

const std::string kProductpageLabels =
    "reporter=\"waypoint\",source_workload=\"productpage-v1\",source_canonical_service=\"productpage\","
    "source_canonical_revision=\"v1\",source_workload_namespace=\"bookinfo\","
    "source_principal=\"spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage\",source_app=\"productpage\","
    "source_version=\"v1\",source_cluster=\"Kubernetes\",destination_workload=\"reviews-v2\","
    "destination_workload_namespace=\"bookinfo\","
    "destination_principal=\"spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews\",destination_app=\"reviews\","
    "destination_version=\"v2\",destination_service=\"reviews.bookinfo.svc.cluster.local\","
    "destination_canonical_service=\"reviews\",destination_canonical_revision=\"v2\","
    "destination_service_name=\"reviews\",destination_service_namespace=\"bookinfo\","
    "destination_cluster=\"Kubernetes\",request_protocol=\"http\",response_code=\"200\","
    "grpc_response_status=\"\",response_flags=\"-\",connection_security_policy=\"mutual_tls\"";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---------------------------------------------------------------------------------
// Metrics

TEST(RequestMetrics, OneRequestHasIstiosFullLabelSetInIstiosOrder) {
  RequestMetrics m;
  m.record(productpageToReviews());
  EXPECT_EQ(RequestMetrics::labelText(productpageToReviews()), kProductpageLabels);
  const std::string text = m.render();
  EXPECT_TRUE(
      contains(text, "# TYPE istio_requests_total counter\nistio_requests_total{" + kProductpageLabels + "} 1\n"))
      << text;
  const Exposition e = parseExposition(text);
  ASSERT_TRUE(e.errors.empty()) << errorsOf(e);
  const auto series = select(e, "istio_requests_total{reporter=\"waypoint\"}");
  ASSERT_EQ(series.size(), 1u);
  // Istio's 25 standard request labels, no more, no fewer.
  EXPECT_EQ(series[0].labels.size(), 25u);
}

TEST(RequestMetrics, HistogramsUseEnvoysDefaultBucketsCumulatively) {
  RequestMetrics m;
  RequestRecord r = productpageToReviews();
  m.record(r);                                 // 12 ms, 300 B in, 1500 B out
  r.duration = std::chrono::milliseconds(25);  // exactly on a bound: counts in le="25"
  r.requestBytes = 0;
  r.responseBytes = 5000000;  // above every bound: only in +Inf
  m.record(r);
  const std::string text = m.render();
  const std::string d = "istio_request_duration_milliseconds_bucket{" + kProductpageLabels;
  EXPECT_TRUE(contains(text, "# TYPE istio_request_duration_milliseconds histogram\n" + d + ",le=\"0.5\"} 0\n"));
  EXPECT_TRUE(contains(text, d + ",le=\"10\"} 0\n" + d + ",le=\"25\"} 2\n"));
  EXPECT_TRUE(contains(text, d + ",le=\"3600000\"} 2\n" + d + ",le=\"+Inf\"} 2\n"));
  EXPECT_TRUE(contains(text, "istio_request_duration_milliseconds_sum{" + kProductpageLabels + "} 37\n"));
  EXPECT_TRUE(contains(text, "istio_request_duration_milliseconds_count{" + kProductpageLabels + "} 2\n"));
  const std::string q = "istio_request_bytes_bucket{" + kProductpageLabels;
  EXPECT_TRUE(contains(text, q + ",le=\"0.5\"} 1\n"));  // the empty request
  EXPECT_TRUE(contains(text, q + ",le=\"250\"} 1\n" + q + ",le=\"500\"} 2\n"));
  EXPECT_TRUE(contains(text, "istio_request_bytes_sum{" + kProductpageLabels + "} 300\n"));
  const std::string p = "istio_response_bytes_bucket{" + kProductpageLabels;
  EXPECT_TRUE(contains(text, p + ",le=\"2500\"} 1\n"));
  EXPECT_TRUE(contains(text, p + ",le=\"3600000\"} 1\n" + p + ",le=\"+Inf\"} 2\n"));
  EXPECT_TRUE(contains(text, "istio_response_bytes_sum{" + kProductpageLabels + "} 5001500\n"));

  const Exposition e = parseExposition(text);
  ASSERT_TRUE(e.errors.empty()) << errorsOf(e);
  std::vector<std::string> les;
  for (const Sample& s : select(e, "istio_request_duration_milliseconds_bucket{reporter=\"waypoint\"}"))
    les.push_back(s.labels.at("le"));
  EXPECT_EQ(les, (std::vector<std::string>{"0.5",   "1",      "5",      "10",      "25",      "50",    "100",
                                           "250",   "500",    "1000",   "2500",    "5000",    "10000", "30000",
                                           "60000", "300000", "600000", "1800000", "3600000", "+Inf"}));
  for (const char* family : {"istio_request_bytes", "istio_response_bytes"})
    EXPECT_EQ(select(e, std::string(family) + "_bucket{reporter=\"waypoint\"}").size(), 20u) << family;
}

TEST(RequestMetrics, FractionalDurationsAndConfiguredBuckets) {
  RequestMetricsOptions o;
  o.durationBucketsMs = {100, 1, NAN, 1, 0.25};  // normalized to 0.25, 1, 100
  o.sizeBuckets = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
  RequestMetrics m(o);
  RequestRecord r = productpageToReviews();
  r.duration = std::chrono::microseconds(1500);
  m.record(r);
  const std::string text = m.render();
  const Exposition e = parseExposition(text);
  ASSERT_TRUE(e.errors.empty()) << errorsOf(e);
  std::vector<std::pair<std::string, double>> d;
  for (const Sample& s : select(e, "istio_request_duration_milliseconds_bucket{reporter=\"waypoint\"}"))
    d.emplace_back(s.labels.at("le"), s.value);
  EXPECT_EQ(d, (std::vector<std::pair<std::string, double>>{{"0.25", 0}, {"1", 0}, {"100", 1}, {"+Inf", 1}}));
  EXPECT_TRUE(contains(text, "istio_request_duration_milliseconds_sum{" + kProductpageLabels + "} 1.5\n"));
  EXPECT_TRUE(contains(text, ",le=\"1000000000\"} 1\n"));  // integers never in exponent form
}

TEST(RequestMetrics, UnknownValuesAndGrpc) {
  RequestMetrics m;
  RequestRecord r;  // nothing known but the defaults
  r.responseCode = 503;
  r.responseFlags = kFlagUpstreamConnectionFailure;
  m.record(r);
  RequestRecord g = productpageToReviews();
  g.requestProtocol = "grpc";
  g.httpVersion = "HTTP/2";
  g.grpcStatus = 14;
  m.record(g);
  const Exposition e = parseExposition(m.render());
  ASSERT_TRUE(e.errors.empty()) << errorsOf(e);

  const auto unknown = select(e, "istio_requests_total{response_flags=\"UF\"}");
  ASSERT_EQ(unknown.size(), 1u);
  for (const auto& [label, value] : unknown[0].labels) {
    if (label == "reporter")
      EXPECT_EQ(value, "waypoint");
    else if (label == "grpc_response_status")
      EXPECT_EQ(value, "") << "Istio leaves it empty for HTTP";
    else if (label == "request_protocol")
      EXPECT_EQ(value, "http");
    else if (label == "response_code")
      EXPECT_EQ(value, "503");
    else if (label == "response_flags")
      EXPECT_EQ(value, "UF");
    else if (label == "connection_security_policy")
      EXPECT_EQ(value, "mutual_tls");
    else
      EXPECT_EQ(value, "unknown") << label;
  }
  const auto grpc = select(e, "istio_requests_total{request_protocol=\"grpc\"}");
  ASSERT_EQ(grpc.size(), 1u);
  EXPECT_EQ(grpc[0].labels.at("grpc_response_status"), "14");
}

// 401 (RequestAuthentication) and 403 (AuthorizationPolicy) stay apart in
// istio_requests_total, and the JWT failures are counted by reason.
TEST(RequestMetrics, JwtFailuresAreKeptApartFromPolicyDenialsAndCountedByReason) {
  RequestMetrics m;
  auto rec = [&m](int code, const char* jwtFailure) {
    RequestRecord r = productpageToReviews();
    r.responseCode = code;
    r.jwtFailure = jwtFailure;
    m.record(r);
  };
  rec(401, "expired");
  rec(401, "expired");
  rec(401, "bad_signature");
  rec(403, "");
  rec(200, "");
  const Exposition e = parseExposition(m.render());
  ASSERT_TRUE(e.errors.empty()) << errorsOf(e);
  EXPECT_EQ(sumOf(select(e, R"(istio_requests_total{response_code="401"})")), 3);
  EXPECT_EQ(sumOf(select(e, R"(istio_requests_total{response_code="403"})")), 1);
  EXPECT_EQ(e.types.at("warren_waypoint_jwt_failures_total"), "counter");
  EXPECT_EQ(sumOf(select(e, R"(warren_waypoint_jwt_failures_total{reason="expired"})")), 2);
  EXPECT_EQ(sumOf(select(e, R"(warren_waypoint_jwt_failures_total{reason="bad_signature"})")), 1);
  EXPECT_EQ(sumOf(select(e, R"(warren_waypoint_jwt_failures_total{reason=~".*"})")), 3);
}

// The alerts banks run on Istio's metrics must select the waypoint's series:
//   sum(rate(istio_requests_total{connection_security_policy!="mutual_tls"}[5m]))
//   istio_requests_total{response_code=~"5.."}
TEST(RequestMetrics, BankAlertSelectorsMatchTheRenderedSeries) {
  RequestMetrics m;
  auto rec = [&m](int code, const char* security, const char* flags, int times) {
    RequestRecord r = productpageToReviews();
    r.responseCode = code;
    r.connectionSecurityPolicy = security;
    r.responseFlags = flags;
    for (int i = 0; i < times; ++i) m.record(r);
  };
  rec(200, "mutual_tls", kFlagNone, 5);
  rec(200, "none", kFlagNone, 2);
  rec(503, "none", kFlagUpstreamConnectionFailure, 1);
  rec(500, "mutual_tls", kFlagNone, 3);
  rec(504, "mutual_tls", kFlagUpstreamRequestTimeout, 1);
  rec(403, "mutual_tls", kFlagNone, 4);  // a policy denial: no flag, as in Envoy
  rec(400, "mutual_tls", kFlagDownstreamProtocolError, 1);

  const Exposition e = parseExposition(m.render());
  ASSERT_TRUE(e.errors.empty()) << errorsOf(e);
  EXPECT_EQ(sumOf(select(e, R"(istio_requests_total{connection_security_policy!="mutual_tls"})")), 3);
  const auto fiveXX = select(e, R"(istio_requests_total{response_code=~"5.."})");
  EXPECT_EQ(fiveXX.size(), 3u);
  EXPECT_EQ(sumOf(fiveXX), 5);
  for (const Sample& s : fiveXX) EXPECT_EQ(s.labels.at("response_code")[0], '5');
  EXPECT_EQ(sumOf(select(e, R"(istio_requests_total{reporter="waypoint",response_code!~"5.."})")), 12);
  EXPECT_EQ(sumOf(select(e, R"(istio_requests_total{})")), 17);
}

TEST(RequestMetrics, LabelValuesAreEscapedAndValidUtf8) {
  RequestMetrics m;
  RequestRecord r = productpageToReviews();
  r.source.workload = "we\"ird\\name\nx";
  r.destinationService = "h\xff\xc0st.example";  // from a Host header: not UTF-8
  r.destination.app = "caf\xc3\xa9";             // valid UTF-8 stays
  m.record(r);
  const std::string text = m.render();
  EXPECT_TRUE(contains(text, "source_workload=\"we\\\"ird\\\\name\\nx\""));
  EXPECT_TRUE(contains(text, "destination_service=\"h\xEF\xBF\xBD\xEF\xBF\xBDst.example\""));
  EXPECT_TRUE(contains(text, "destination_app=\"caf\xc3\xa9\""));
  const Exposition e = parseExposition(text);
  ASSERT_TRUE(e.errors.empty()) << errorsOf(e);
  const auto s = select(e, R"(istio_requests_total{reporter="waypoint"})");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].labels.at("source_workload"), "we\"ird\\name\nx");
}

TEST(RequestMetrics, SanitizeLabelValue) {
  EXPECT_EQ(sanitizeLabelValue("plain"), "plain");
  EXPECT_EQ(sanitizeLabelValue("\xC3\xBC \xE2\x82\xAC \xF0\x9F\x98\x80"), "\xC3\xBC \xE2\x82\xAC \xF0\x9F\x98\x80");
  const std::string bad = "\xEF\xBF\xBD";
  EXPECT_EQ(sanitizeLabelValue("\xC0\xAF"), bad + bad);                      // overlong
  EXPECT_EQ(sanitizeLabelValue("\xED\xA0\x80"), bad + bad + bad);            // a UTF-16 surrogate
  EXPECT_EQ(sanitizeLabelValue("a\xE2\x82"), "a" + bad + bad);               // truncated
  EXPECT_EQ(sanitizeLabelValue("\xF4\x90\x80\x80"), bad + bad + bad + bad);  // above U+10FFFF
  EXPECT_EQ(sanitizeLabelValue("\x80x"), bad + "x");                         // a lone continuation byte
  EXPECT_EQ(sanitizeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(RequestMetrics, SeriesPastTheCapFoldIntoOverflowKeepingWhatAlertsSelect) {
  RequestMetricsOptions o;
  o.maxSeries = 2;
  RequestMetrics m(o);
  auto from = [](const std::string& workload, int code, const char* security) {
    RequestRecord r = productpageToReviews();
    r.source.workload = workload;
    r.source.principal = "spiffe://cluster.local/ns/bookinfo/sa/" + workload;
    r.responseCode = code;
    r.connectionSecurityPolicy = security;
    return r;
  };
  m.record(from("a", 200, "mutual_tls"));
  m.record(from("b", 200, "mutual_tls"));
  for (int i = 0; i < 50; ++i) m.record(from("scan-" + std::to_string(i), 200, "mutual_tls"));
  m.record(from("c", 503, "none"));
  m.record(from("d", 503, "none"));
  m.record(from("a", 200, "mutual_tls"));  // known series keep counting

  EXPECT_EQ(m.seriesCount(), 4u);  // a, b, overflow 200/mutual_tls, overflow 503/none
  EXPECT_EQ(m.overflowCount(), 52u);
  const Exposition e = parseExposition(m.render());
  ASSERT_TRUE(e.errors.empty()) << errorsOf(e);
  EXPECT_EQ(sumOf(select(e, R"(istio_requests_total{source_workload="a"})")), 2);
  const auto overflow = select(e, R"(istio_requests_total{source_workload="overflow"})");
  ASSERT_EQ(overflow.size(), 2u);
  for (const Sample& s : overflow) {
    EXPECT_EQ(s.labels.at("reporter"), "waypoint");
    EXPECT_EQ(s.labels.at("source_principal"), "overflow");
    EXPECT_EQ(s.labels.at("destination_service"), "overflow");
    EXPECT_EQ(s.labels.at("request_protocol"), "http");
    EXPECT_EQ(s.labels.at("response_flags"), "-");
  }
  EXPECT_EQ(sumOf(select(e, R"(istio_requests_total{connection_security_policy!="mutual_tls"})")), 2);
  EXPECT_EQ(sumOf(select(e, R"(istio_requests_total{response_code=~"5.."})")), 2);
  EXPECT_EQ(sumOf(select(e, R"(istio_request_duration_milliseconds_count{source_workload="overflow"})")), 52);
  const auto counter = select(e, "warren_waypoint_metric_series_overflow_total{}");
  ASSERT_EQ(counter.size(), 1u);
  EXPECT_EQ(counter[0].value, 52);
  EXPECT_EQ(e.types.at("warren_waypoint_metric_series_overflow_total"), "counter");
}

TEST(RequestMetrics, OverflowSeriesAreBoundedToo) {
  RequestMetricsOptions o;
  o.maxSeries = 0;  // everything overflows
  RequestMetrics m(o);
  RequestRecord r = productpageToReviews();
  // Distinct alerting label sets (a waypoint bug writing odd flags) fill the first fold...
  for (size_t i = 0; i < RequestMetrics::kMaxOverflowSeries; ++i) {
    r.responseFlags = "F" + std::to_string(i);
    m.record(r);
  }
  EXPECT_EQ(m.seriesCount(), RequestMetrics::kMaxOverflowSeries);
  // ...past which only the response code is kept.
  for (int i = 0; i < 100; ++i) {
    r.responseFlags = "G" + std::to_string(i);
    r.connectionSecurityPolicy = "none";
    m.record(r);
  }
  r.responseCode = 100000;  // not an HTTP status: folded too
  m.record(r);
  EXPECT_EQ(m.seriesCount(), RequestMetrics::kMaxOverflowSeries + 2);
  const Exposition e = parseExposition(m.render());
  ASSERT_TRUE(e.errors.empty()) << errorsOf(e);
  const auto codeOnly = select(e, R"(istio_requests_total{response_flags="overflow"})");
  ASSERT_EQ(codeOnly.size(), 2u);
  EXPECT_EQ(sumOf(codeOnly), 101);
  for (const Sample& s : codeOnly) {
    EXPECT_EQ(s.labels.at("connection_security_policy"), "overflow");
    EXPECT_EQ(s.labels.at("reporter"), "waypoint");
  }
  EXPECT_EQ(sumOf(select(e, R"(istio_requests_total{response_code="200",response_flags="overflow"})")), 100);
  EXPECT_EQ(m.overflowCount(), RequestMetrics::kMaxOverflowSeries + 101);
}

TEST(RequestMetrics, EveryFamilyIsDeclaredWithNoRequests) {
  RequestMetrics m;
  const std::string text = m.render();
  const Exposition e = parseExposition(text);
  ASSERT_TRUE(e.errors.empty()) << errorsOf(e);
  EXPECT_EQ(e.types, (std::map<std::string, std::string>{{"istio_requests_total", "counter"},
                                                         {"istio_request_duration_milliseconds", "histogram"},
                                                         {"istio_request_bytes", "histogram"},
                                                         {"istio_response_bytes", "histogram"},
                                                         {"warren_waypoint_metric_series_overflow_total", "counter"},
                                                         {"warren_waypoint_jwt_failures_total", "counter"}}));
  EXPECT_TRUE(contains(text, "\nwarren_waypoint_metric_series_overflow_total 0\n"));
}

TEST(RequestMetrics, RecordingAndRenderingConcurrently) {
  RequestMetrics m;
  constexpr int kRequests = 20000;
  std::atomic<bool> done{false};
  std::thread loop([&] {
    RequestRecord r = productpageToReviews();
    for (int i = 0; i < kRequests; ++i) {
      r.responseCode = i % 2 ? 200 : 503;
      r.source.workload = "w" + std::to_string(i % 16);
      m.record(r);
    }
    done = true;
  });
  int renders = 0;
  while (!done || renders == 0) {
    const Exposition e = parseExposition(m.render());
    ++renders;
    if (!e.errors.empty()) {
      ADD_FAILURE() << errorsOf(e);
      break;
    }
  }
  loop.join();
  const Exposition e = parseExposition(m.render());
  EXPECT_EQ(sumOf(select(e, "istio_requests_total{}")), kRequests);
  EXPECT_EQ(sumOf(select(e, "istio_response_bytes_count{}")), kRequests);
  EXPECT_EQ(m.seriesCount(), 16u);
}

TEST(RequestMetrics, ServedWithTheTcpMetricsOnTheMetricsPort) {
  warren::telemetry::AdminOptions o;
  o.metricsAddress = "127.0.0.1:0";
  o.readinessAddress = "127.0.0.1:0";
  o.adminAddress = "127.0.0.1:0";
  warren::telemetry::TcpMetrics tcp;
  warren::telemetry::TcpLabels l;
  l.reporter = "destination";
  l.response_flags = "-";
  tcp.connectionOpened(l);
  RequestMetrics requests;
  requests.record(productpageToReviews());
  auto t = warren::telemetry::start(o, {}, tcp);
  ASSERT_TRUE(t.ok()) << t.error().message;
  installMetricsRoutes((*t)->metrics(), tcp, requests);
  for (const char* path : {"/metrics", "/stats/prometheus"}) {
    const auto r = warren::telemetry::test::httpGet((*t)->metrics().port(), path);
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_EQ(warren::telemetry::test::headerValue(r, "Content-Type"), "text/plain; version=0.0.4");
    EXPECT_EQ(r.body, tcp.render() + requests.render()) << path;
    const Exposition e = parseExposition(r.body);
    ASSERT_TRUE(e.errors.empty()) << errorsOf(e);
    EXPECT_EQ(sumOf(select(e, "istio_tcp_connections_opened_total{}")), 1);
    EXPECT_EQ(sumOf(select(e, R"(istio_requests_total{reporter="waypoint"})")), 1);
  }
}

// ---------------------------------------------------------------------------------
// Access log

TEST(RequestLog, OneJsonObjectWithEnvoysFieldNames) {
  RequestRecord r = productpageToReviews();
  r.policy = "bookinfo/reviews-viewer";
  r.policyReason = "allowed: principal matched rule 0";
  r.requestPrincipal = "https://issuer.example/alice";
  const std::string line = formatRequest(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("start_time"), "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(j.at("method"), "GET");
  EXPECT_EQ(j.at("path"), "/reviews/0");
  EXPECT_EQ(j.at("authority"), "reviews:9080");
  EXPECT_EQ(j.at("protocol"), "HTTP/1.1");
  EXPECT_EQ(j.at("request_protocol"), "http");
  EXPECT_EQ(j.at("response_code"), 200);
  EXPECT_EQ(j.at("response_flags"), "-");
  EXPECT_EQ(j.at("response_code_details"), "via_upstream");
  EXPECT_EQ(j.at("bytes_received"), 300);
  EXPECT_EQ(j.at("bytes_sent"), 1500);
  EXPECT_EQ(j.at("duration"), 12);
  EXPECT_EQ(j.at("upstream_host"), "10.244.1.7:9080");
  EXPECT_EQ(j.at("user_agent"), "curl/8.5.0");
  EXPECT_EQ(j.at("request_id"), "5f2b7a4e-1c0d-4f7e-9a3b-2d6c8e1f0a9b");
  EXPECT_EQ(j.at("connection_security_policy"), "mutual_tls");
  EXPECT_EQ(j.at("source_principal"), "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage");
  EXPECT_EQ(j.at("source_workload"), "productpage-v1");
  EXPECT_EQ(j.at("source_namespace"), "bookinfo");
  EXPECT_EQ(j.at("destination_principal"), "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews");
  EXPECT_EQ(j.at("destination_workload"), "reviews-v2");
  EXPECT_EQ(j.at("destination_namespace"), "bookinfo");
  EXPECT_EQ(j.at("destination_service"), "reviews.bookinfo.svc.cluster.local");
  EXPECT_EQ(j.at("destination_port"), 9080);
  EXPECT_EQ(j.at("policy"), "bookinfo/reviews-viewer");
  EXPECT_EQ(j.at("policy_reason"), "allowed: principal matched rule 0");
  EXPECT_EQ(j.at("request_principal"), "https://issuer.example/alice");
  EXPECT_FALSE(j.contains("grpc_status"));
}

TEST(RequestLog, OptionalFieldsAreLeftOutAndDenialsCarryThePolicy) {
  RequestRecord r;
  r.responseCode = 403;
  r.policy = "bookinfo/deny-delete";
  r.policyReason = "denied: method DELETE";
  r.responseCodeDetails = rbacDeniedDetails(r.policy);
  const auto j = nlohmann::json::parse(formatRequest(r));
  EXPECT_EQ(j.at("response_code"), 403);
  EXPECT_EQ(j.at("response_flags"), "-");
  EXPECT_EQ(j.at("response_code_details"), "rbac_access_denied_matched_policy[bookinfo/deny-delete]");
  EXPECT_EQ(j.at("policy"), "bookinfo/deny-delete");
  EXPECT_FALSE(j.contains("request_principal"));
  EXPECT_FALSE(j.contains("grpc_status"));
  EXPECT_EQ(j.at("start_time"), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rbacDeniedDetails(""), "rbac_access_denied_matched_policy[none]");

  RequestRecord g;
  g.grpcStatus = 0;
  EXPECT_EQ(nlohmann::json::parse(formatRequest(g)).at("grpc_status"), 0);
}

TEST(RequestLog, ClientBytesThatAreNotUtf8DoNotThrow) {
  RequestRecord r = productpageToReviews();
  r.path = "/a\xff\xfe\"b\nc";
  r.userAgent = "\xc0";
  std::string line;
  ASSERT_NO_THROW(line = formatRequest(r));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("path"), "/a\xEF\xBF\xBD\xEF\xBF\xBD\"b\nc");
  EXPECT_EQ(j.at("user_agent"), "\xEF\xBF\xBD");
}

TEST(RequestLog, LogRequestWritesTheAccessLine) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_pattern("%v");
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  const RequestRecord r = productpageToReviews();
  logRequest(r);
  spdlog::set_default_logger(previous);
  EXPECT_EQ(out.str(), "access " + formatRequest(r) + "\n");
}

}  // namespace
}  // namespace warren::waypoint::telemetry
