#include "tools/bench/audit_compare.h"

#include <algorithm>
#include <cstdio>

namespace warren::bench {

namespace {
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

AuditRound medians(const std::vector<AuditRound>& rounds) {
  auto of = [&](double AuditRound::*field) {
    std::vector<double> v;
    for (const auto& r : rounds) v.push_back(r.*field);
    return median(v);
  };
  return {of(&AuditRound::connP50), of(&AuditRound::connP99), of(&AuditRound::ratePerSecond),
          of(&AuditRound::cpuPerConnUs)};
}

double percentOf(double part, double whole) { return whole > 0 ? 100 * part / whole : 0; }
}  // namespace

AuditCost auditCost(const std::vector<AuditRound>& off, const std::vector<AuditRound>& on) {
  AuditCost c;
  c.off = medians(off);
  c.on = medians(on);
  c.p50Percent = percentOf(c.on.connP50 - c.off.connP50, c.off.connP50);
  c.ratePercent = percentOf(c.off.ratePerSecond - c.on.ratePerSecond, c.off.ratePerSecond);
  c.cpuPercent = percentOf(c.on.cpuPerConnUs - c.off.cpuPerConnUs, c.off.cpuPerConnUs);
  return c;
}

std::string auditCostTable(const std::vector<AuditRound>& off, const std::vector<AuditRound>& on, const AuditCost& c) {
  std::string out;
  char line[200];
  std::snprintf(line, sizeof(line), "%-8s %-6s %10s %10s %10s %14s\n", "round", "audit", "conn p50", "conn p99", "rate",
                "tunnel CPU");
  out += line;
  std::snprintf(line, sizeof(line), "%-8s %-6s %10s %10s %10s %14s\n", "", "", "(us)", "(us)", "(conn/s)",
                "(us per conn)");
  out += line;
  auto row = [&](const std::string& round, const char* audit, const AuditRound& r) {
    std::snprintf(line, sizeof(line), "%-8s %-6s %10.1f %10.1f %10.0f %14.1f\n", round.c_str(), audit, r.connP50,
                  r.connP99, r.ratePerSecond, r.cpuPerConnUs);
    out += line;
  };
  for (size_t i = 0; i < std::max(off.size(), on.size()); ++i) {
    if (i < off.size()) row(std::to_string(i + 1), "off", off[i]);
    if (i < on.size()) row(std::to_string(i + 1), "on", on[i]);
  }
  row("median", "off", c.off);
  row("median", "on", c.on);
  std::snprintf(line, sizeof(line),
                "audit on against off: new conn p50 %+.1f%%, connection rate %+.1f%% lost, tunnel CPU per "
                "connection %+.1f%%\n",
                c.p50Percent, c.ratePercent, c.cpuPercent);
  out += line;
  return out;
}

}  // namespace warren::bench
