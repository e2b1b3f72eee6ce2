#include "telemetry/metrics.h"

#include <charconv>
#include <cmath>
#include <set>

namespace warren::telemetry {
namespace {

constexpr const char* kOpened = "istio_tcp_connections_opened_total";
constexpr const char* kClosed = "istio_tcp_connections_closed_total";
constexpr const char* kSent = "istio_tcp_sent_bytes_total";
constexpr const char* kReceived = "istio_tcp_received_bytes_total";
constexpr const char* kDropped = "warren_metrics_series_dropped_total";

void appendLabel(std::string& out, const char* name, const std::string& value) {
  if (out.size() > 1) out += ',';
  out += name;
  out += "=\"";
  out += escapeLabelValue(value.empty() ? std::string_view("unknown") : std::string_view(value));
  out += '"';
}

// Rendered once per series; the order is Istio's label order as listed in TcpLabels.
std::string renderLabels(const TcpLabels& l) {
  std::string out = "{";
  appendLabel(out, "reporter", l.reporter);
  appendLabel(out, "source_workload", l.source_workload);
  appendLabel(out, "source_workload_namespace", l.source_workload_namespace);
  appendLabel(out, "source_principal", l.source_principal);
  appendLabel(out, "destination_workload", l.destination_workload);
  appendLabel(out, "destination_workload_namespace", l.destination_workload_namespace);
  appendLabel(out, "destination_principal", l.destination_principal);
  appendLabel(out, "destination_service", l.destination_service);
  appendLabel(out, "connection_security_policy", l.connection_security_policy);
  appendLabel(out, "response_flags", l.response_flags);
  out += '}';
  return out;
}

void appendHeader(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// Prometheus sample values: integers without a fraction (what every counter here is),
// the shortest round-tripping form otherwise, and the format's spellings for the
// special values.
std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

// HELP text escaping (backslash and newline only, per the format).
std::string escapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

bool isValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

TcpMetrics::TcpMetrics(size_t maxSeries) : maxSeries_(maxSeries) {}

TcpMetrics::Series* TcpMetrics::find(const TcpLabels& labels) {
  auto it = series_.find(labels);
  if (it != series_.end()) return &it->second;
  if (series_.size() >= maxSeries_) {
    ++dropped_;
    return nullptr;
  }
  Series s;
  s.labelText = renderLabels(labels);
  return &series_.emplace(labels, std::move(s)).first->second;
}

void TcpMetrics::connectionOpened(const TcpLabels& labels) {
  std::lock_guard lock(mu_);
  if (Series* s = find(labels)) ++s->opened;
}

void TcpMetrics::connectionClosed(const TcpLabels& labels, uint64_t sentBytes, uint64_t receivedBytes) {
  std::lock_guard lock(mu_);
  if (Series* s = find(labels)) {
    ++s->closed;
    s->sent += sentBytes;
    s->received += receivedBytes;
  }
}

void TcpMetrics::addBytes(const TcpLabels& labels, uint64_t sentBytes, uint64_t receivedBytes) {
  std::lock_guard lock(mu_);
  if (Series* s = find(labels)) {
    s->sent += sentBytes;
    s->received += receivedBytes;
  }
}

Status TcpMetrics::checkNewName(const std::string& name) const {
  if (!isValidMetricName(name)) return makeError("metric name \"" + name + "\" is not a valid Prometheus name");
  if (name == kOpened || name == kClosed || name == kSent || name == kReceived || name == kDropped ||
      extras_.count(name))
    return makeError("metric " + name + " is already registered");
  return okStatus();
}

Status TcpMetrics::addExtra(std::string type, std::string name, std::string help, std::function<double()> read) {
  if (!read) return makeError("metric " + name + ": no callback");
  std::lock_guard lock(mu_);
  if (auto st = checkNewName(name); !st) return st;
  extras_.emplace(std::move(name), Extra{std::move(type), std::move(help), std::move(read), nullptr, 0});
  return okStatus();
}

Status TcpMetrics::addCounterGroup(std::vector<GroupMember> members, std::function<std::vector<double>()> read) {
  if (!read) return makeError("metric group: no callback");
  std::lock_guard lock(mu_);
  std::set<std::string> names;
  for (const auto& m : members) {
    if (auto st = checkNewName(m.name); !st) return st;
    if (!names.insert(m.name).second) return makeError("metric " + m.name + " appears twice in its group");
  }
  auto group = std::make_shared<const GroupRead>(std::move(read));
  for (size_t i = 0; i < members.size(); ++i)
    extras_.emplace(std::move(members[i].name), Extra{"counter", std::move(members[i].help), {}, group, i});
  return okStatus();
}

Status TcpMetrics::addCounter(std::string name, std::string help, std::function<double()> read) {
  return addExtra("counter", std::move(name), std::move(help), std::move(read));
}

Status TcpMetrics::addGauge(std::string name, std::string help, std::function<double()> read) {
  return addExtra("gauge", std::move(name), std::move(help), std::move(read));
}

size_t TcpMetrics::seriesCount() const {
  std::lock_guard lock(mu_);
  return series_.size();
}

uint64_t TcpMetrics::droppedSeries() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

std::string TcpMetrics::render() const {
  std::string out;
  std::vector<std::pair<std::string, Extra>> extras;
  {
    std::lock_guard lock(mu_);
    struct Counter {
      const char* name;
      const char* help;
      uint64_t Series::*value;
    };
    static constexpr Counter kCounters[] = {
        {kOpened, "The total number of TCP connections opened.", &Series::opened},
        {kClosed, "The total number of TCP connections closed.", &Series::closed},
        {kSent, "The size of total bytes sent during response in case of a TCP connection.", &Series::sent},
        {kReceived, "The size of total bytes received during request in case of a TCP connection.", &Series::received},
    };
    for (const Counter& c : kCounters) {
      appendHeader(out, c.name, c.help, "counter");
      for (const auto& entry : series_) {
        const Series& s = entry.second;
        out.append(c.name).append(s.labelText).append(" ").append(std::to_string(s.*(c.value))).append("\n");
      }
    }
    appendHeader(out, kDropped, "Metric series not created because the series limit was reached.", "counter");
    out.append(kDropped).append(" ").append(std::to_string(dropped_)).append("\n");
    extras.assign(extras_.begin(), extras_.end());  // copied: callbacks run unlocked
  }
  std::map<const GroupRead*, std::vector<double>> groupValues;  // each group read once per render
  for (const auto& [name, extra] : extras) {
    double value = 0;
    if (extra.group) {
      auto it = groupValues.find(extra.group.get());
      if (it == groupValues.end()) it = groupValues.emplace(extra.group.get(), (*extra.group)()).first;
      if (extra.index < it->second.size()) value = it->second[extra.index];
    } else {
      value = extra.read();
    }
    appendHeader(out, name, escapeHelp(extra.help), extra.type);
    out.append(name).append(" ").append(formatValue(value)).append("\n");
  }
  return out;
}

}  // namespace warren::telemetry
