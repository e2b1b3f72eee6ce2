#include "tools/warrenctl/stats.h"

#include <cmath>

namespace warren::ctl {

namespace {

double fillPercent(uint64_t entries, uint32_t max) {
  if (max == 0) return 0;
  return std::round(1000.0 * static_cast<double>(entries) / max) / 10.0;  // one decimal
}

std::string percentText(double p) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.1f%%", p);
  return buf;
}

}  // namespace

Output statsOutput(const std::vector<PodView>& pods, const std::vector<MapInfoView>& maps) {
  warren_counters total{};
  size_t withoutCounters = 0;
  Json podRows = Json::array();
  Table podTable{{"NAMESPACE", "NAME", "COOKIE"}, {}};
  for (auto& c : counterColumns()) podTable.headers.push_back(c);
  for (const auto& p : pods) {
    if (!p.counters) {
      ++withoutCounters;
      continue;
    }
    total = sumCounters({total, *p.counters});
    Json row = {{"namespace", p.ns}, {"name", p.name}, {"netns_cookie", p.netnsCookie}};
    row.update(countersJson(*p.counters));
    podRows.push_back(row);
    std::vector<std::string> cells = {p.ns.empty() ? "?" : p.ns, p.name.empty() ? "?" : p.name,
                                      std::to_string(p.netnsCookie)};
    for (auto& c : counterCells(*p.counters)) cells.push_back(c);
    podTable.rows.push_back(cells);
  }
  std::vector<std::string> totalCells = {"TOTAL", std::to_string(pods.size()) + " pods", "-"};
  for (auto& c : counterCells(total)) totalCells.push_back(c);
  podTable.rows.push_back(totalCells);

  Json mapRows = Json::array();
  Table mapTable{{"MAP", "ENTRIES", "MAX_ENTRIES", "FILL"}, {}};
  for (const auto& m : maps) {
    if (!m.entries) continue;
    double fill = fillPercent(*m.entries, m.maxEntries);
    mapRows.push_back(
        {{"name", m.name}, {"entries", *m.entries}, {"max_entries", m.maxEntries}, {"fill_percent", fill}});
    mapTable.rows.push_back({m.name, std::to_string(*m.entries), std::to_string(m.maxEntries), percentText(fill)});
  }

  Json totals = {{"pods", pods.size()}, {"pods_without_counters", withoutCounters}};
  totals.update(countersJson(total));
  Output out{Json{{"totals", totals}, {"pods", podRows}, {"maps", mapRows}}, podTable};
  out.extra.push_back(mapTable);
  return out;
}

Output podShowOutput(const PodView& p, const std::vector<warren_counters>& perCpu, const LinkView* skLookup) {
  Json j = podJson(p);
  Json cpus = Json::array();
  for (size_t cpu = 0; cpu < perCpu.size(); ++cpu) {
    Json c = {{"cpu", cpu}};
    c.update(countersJson(perCpu[cpu]));
    cpus.push_back(c);
  }
  j["counters_per_cpu"] = cpus;
  j["sk_lookup"] = skLookup ? linkShowJson(*skLookup) : Json(nullptr);

  // Human output: the pod as key/value lines, then its listeners, then its counters.
  std::string ips;
  for (const auto& ip : p.ips) ips += (ips.empty() ? "" : ",") + ip;
  auto orUnknown = [](const std::string& s) { return s.empty() ? std::string("?") : s; };
  Table about{
      {},
      {{"namespace", orUnknown(p.ns)},
       {"name", orUnknown(p.name)},
       {"service_account", orUnknown(p.serviceAccount)},
       {"uid", orUnknown(p.uid)},
       {"netns_cookie", std::to_string(p.netnsCookie)},
       {"ips", ips.empty() ? "-" : ips},
       {"inbound_listener", listenerSummary(p.listeners)},
       {"sk_lookup_link", std::string(linkStateName(p.skLookup)) +
                              (skLookup ? " (link " + std::to_string(skLookup->id) + ", prog " +
                                              std::to_string(skLookup->progId) + ", " + linkTarget(*skLookup) + ")"
                                        : "")}}};
  Output out{j, about};
  Table listeners{{"IP", "LISTENER", "SOCKET_COOKIE"}, {}};
  for (const auto& l : p.listeners)
    listeners.rows.push_back({l.ip, listenerStateName(l.state), l.socketCookie ? std::to_string(l.socketCookie) : "-"});
  out.extra.push_back(listeners);
  Table counters{dumpHeaders(WARREN_MAP_COUNTERS), {}};
  if (p.counters) counters.rows = countersRows(p.netnsCookie, perCpu);
  out.extra.push_back(counters);
  return out;
}

}  // namespace warren::ctl
