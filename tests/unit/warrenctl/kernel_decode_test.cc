// The pure decoders behind link show, map show/dump, pod show, conn list, trace and
// stats: hand-made ABI structs in, the exact values and documented fields out.

#include <arpa/inet.h>

#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "tools/warrenctl/commands.h"
#include "tools/warrenctl/events.h"
#include "tools/warrenctl/maps.h"
#include "tools/warrenctl/select.h"
#include "tools/warrenctl/stats.h"

namespace warren::ctl {
namespace {

warren_addr v4(const char* ip) {
  warren_addr a{};
  EXPECT_EQ(inet_pton(AF_INET, ip, a.addr), 1) << ip;
  return a;
}
warren_addr v6(const char* ip) {
  warren_addr a{};
  EXPECT_EQ(inet_pton(AF_INET6, ip, a.addr), 1) << ip;
  return a;
}

void keyPaths(const Json& j, const std::string& prefix, std::set<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      std::string p = prefix.empty() ? k : prefix + "." + k;
      out.insert(p);
      keyPaths(v, p, out);
    }
  } else if (j.is_array()) {
    for (const auto& e : j) keyPaths(e, prefix + "[]", out);
  }
}

std::set<std::string> documented(const std::string& object, const std::string& verb) {
  for (const auto& o : commandTable().objects)
    for (const auto& v : o.verbs)
      if (o.name == object && v.name == verb) {
        std::set<std::string> fields;
        for (const auto& f : v.fields) fields.insert(f.path);
        return fields;
      }
  ADD_FAILURE() << "no verb " << object << " " << verb;
  return {};
}

PodView podView(uint64_t cookie, const char* ns, const char* name, std::vector<std::string> ips) {
  PodView p;
  p.netnsCookie = cookie;
  p.hasMeta = ns != nullptr;
  p.ns = ns ? ns : "";
  p.name = name ? name : "";
  p.ips = std::move(ips);
  return p;
}

// ---- map dump ----------------------------------------------------------------------

TEST(MapDump, EnrolledShowsFlagsByNameAndOnlyTheFlaggedIps) {
  warren_pod pod{};
  pod.flags = WARREN_POD_HAS_IP4;
  inet_pton(AF_INET, "10.244.1.7", &pod.ip4);
  pod.ip6 = v6("fd00::7");  // not flagged: must not be shown
  DumpEntry e = dumpEnrolled(42, pod);
  EXPECT_EQ(e.json["key"]["netns_cookie"], 42u);
  EXPECT_EQ(e.json["value"]["flags"], 1u);
  EXPECT_EQ(e.json["value"]["flag_names"], Json::array({"has_ip4"}));
  EXPECT_EQ(e.json["value"]["ip4"], "10.244.1.7");
  EXPECT_EQ(e.json["value"]["ip6"], "");
  EXPECT_EQ(e.row, (std::vector<std::string>{"42", "has_ip4", "10.244.1.7", "-"}));
  pod.flags = 0x7;  // an unknown bit is shown, not dropped
  EXPECT_EQ(dumpEnrolled(1, pod).json["value"]["flag_names"], Json::array({"has_ip4", "has_ip6", "0x4"}));
}

TEST(MapDump, OrigDstDecodesBothSidesWithHostOrderPorts) {
  warren_conn_key k{};
  k.netns_cookie = 9;
  k.family = WARREN_AF_INET;
  k.src = v4("127.0.0.1");
  k.src_port = 40000;
  warren_orig_dst v{};
  v.family = WARREN_AF_INET6;
  v.ip = v6("fd00::2");
  v.port = 8080;
  v.netns_cookie = 9;
  DumpEntry e = dumpOrigDst(k, v);
  EXPECT_EQ(e.json.dump(), R"({"key":{"netns_cookie":9,"family":"ipv4","src_ip":"127.0.0.1","src_port":40000},)"
                           R"("value":{"netns_cookie":9,"family":"ipv6","ip":"fd00::2","port":8080}})");
  EXPECT_EQ(e.row, (std::vector<std::string>{"9", "127.0.0.1:40000", "[fd00::2]:8080"}));
}

TEST(MapDump, CountersAreSummedAndKeptPerCpu) {
  std::vector<warren_counters> perCpu(3);
  perCpu[0].captured_out = 2;
  perCpu[2].captured_out = 3;
  perCpu[2].failed_closed = 1;
  perCpu[1].udp_sends = 9;  // a CPU that counted only UDP is still shown
  DumpEntry e = dumpCounters(5, perCpu);
  EXPECT_EQ(e.json["value"]["captured_out"], 5u);
  EXPECT_EQ(e.json["value"]["failed_closed"], 1u);
  ASSERT_EQ(e.json["value"]["per_cpu"].size(), 3u);
  EXPECT_EQ(e.json["value"]["per_cpu"][2]["cpu"], 2u);
  EXPECT_EQ(e.json["value"]["per_cpu"][2]["captured_out"], 3u);
  // The table has a column per counter: the sum, then only the CPUs that counted anything.
  EXPECT_EQ(dumpHeaders(WARREN_MAP_COUNTERS),
            (std::vector<std::string>{"COOKIE", "CPU", "OUT", "IN", "PASSED", "FAILED_CLOSED", "QUOTA_REFUSED",
                                      "UDP_SENDS"}));
  auto rows = countersRows(5, perCpu);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"5", "sum", "5", "0", "0", "1", "0", "9"}));
  EXPECT_EQ(rows[1][1], "0");
  EXPECT_EQ(rows[2], (std::vector<std::string>{"5", "1", "0", "0", "0", "0", "0", "9"}));
  EXPECT_EQ(rows[3][1], "2");
}

TEST(MapDump, MetaInboundAndPodIps) {
  warren_pod_meta m{};
  std::snprintf(m.namespace_, sizeof(m.namespace_), "mesh");
  std::snprintf(m.name, sizeof(m.name), "client");
  std::memset(m.uid, 'u', sizeof(m.uid));  // unterminated: read to the field's end only
  DumpEntry meta = dumpPodMeta(3, m);
  EXPECT_EQ(meta.json["value"]["namespace"], "mesh");
  EXPECT_EQ(meta.json["value"]["uid"], std::string(WARREN_META_LEN, 'u'));

  warren_ip_key k{};
  k.family = WARREN_AF_INET;
  k.ip = v4("10.0.0.9");
  EXPECT_EQ(dumpPodIp(k, 3).row, (std::vector<std::string>{"10.0.0.9", "3"}));
  EXPECT_EQ(dumpInbound(k, ListenerState::Up, 77).row, (std::vector<std::string>{"10.0.0.9", "up", "77"}));
  // Only an "up" lookup's value is a socket cookie.
  EXPECT_EQ(dumpInbound(k, ListenerState::Unknown, 77).json["value"]["socket_cookie"], 0u);
}

TEST(MapDump, PodConnsShowWhatEachPodHoldsAgainstItsQuota) {
  DumpEntry e = dumpPodConns(42, 7);
  EXPECT_EQ(e.json["key"]["netns_cookie"], 42u);
  EXPECT_EQ(e.json["value"]["held"], 7);
  EXPECT_EQ(e.row, (std::vector<std::string>{"42", "7"}));
  EXPECT_EQ(dumpHeaders(WARREN_MAP_POD_CONNS), (std::vector<std::string>{"COOKIE", "HELD"}));
  EXPECT_EQ(dumpHeaders(WARREN_MAP_HBONE), dumpHeaders(WARREN_MAP_INBOUND));
  EXPECT_FALSE(whyNotDumpable(WARREN_MAP_HBONE, {}));
  EXPECT_FALSE(whyNotDumpable(WARREN_MAP_POD_CONNS, {}));
}

TEST(MapDump, RingBufferSocketStorageAndUnknownNamesAreRefusedWithAReason) {
  EXPECT_FALSE(whyNotDumpable(WARREN_MAP_ORIG_DST, {}));
  auto events = whyNotDumpable(WARREN_MAP_EVENTS, {});
  ASSERT_TRUE(events);
  EXPECT_NE(events->find("warrenctl trace"), std::string::npos) << *events;
  auto sk = whyNotDumpable("warren_sk_state", {});
  ASSERT_TRUE(sk);
  EXPECT_NE(sk->find("per-socket"), std::string::npos);
  auto unknown = whyNotDumpable("nosuch", {});
  ASSERT_TRUE(unknown);
  for (const auto& name : dumpableMaps()) EXPECT_NE(unknown->find(name), std::string::npos) << name;
  auto other = whyNotDumpable("other_map", {"other_map"});
  ASSERT_TRUE(other);
  EXPECT_NE(other->find("no decoder"), std::string::npos) << *other;
}

TEST(MapDump, JsonHasExactlyTheDocumentedFieldsOverAllMaps) {
  std::set<std::string> paths;
  warren_pod pod{};
  warren_ip_key ip{};
  warren_conn_key ck{};
  warren_orig_dst od{};
  warren_pod_meta m{};
  for (const auto& e :
       {dumpEnrolled(1, pod), dumpPodIp(ip, 1), dumpOrigDst(ck, od), dumpCounters(1, std::vector<warren_counters>(2)),
        dumpPodMeta(1, m), dumpInbound(ip, ListenerState::Up, 1), dumpPodConns(1, 1)})
    keyPaths(e.json, "", paths);
  EXPECT_EQ(paths, documented("map", "dump"));
}

// ---- map show / link show / conn list -----------------------------------------------

TEST(MapShow, DecodesInfoAndNamesFlags) {
  bpf_map_info info{};
  info.id = 12;
  info.type = BPF_MAP_TYPE_PERCPU_HASH;
  info.key_size = 8;
  info.value_size = 32;
  info.max_entries = 4096;
  info.map_flags = BPF_F_NO_PREALLOC;
  MapInfoView m = decodeMapInfo(WARREN_MAP_COUNTERS, info);
  m.entries = 3;
  EXPECT_EQ(mapInfoRow(m),
            (std::vector<std::string>{"warren_counters", "12", "percpu_hash", "8", "32", "4096", "3", "no_prealloc"}));
  std::set<std::string> paths;
  keyPaths(mapInfoJson(m), "", paths);
  EXPECT_EQ(paths, documented("map", "show"));
  // A ring buffer has no entry count: null, not 0.
  info.type = BPF_MAP_TYPE_RINGBUF;
  EXPECT_FALSE(countableMapType(info.type));
  EXPECT_TRUE(mapInfoJson(decodeMapInfo(WARREN_MAP_EVENTS, info))["entries"].is_null());
  EXPECT_EQ(mapFlagNames(0x80000000u), std::vector<std::string>{"0x80000000"});
}

TEST(LinkShow, CarriesTheProgramIdAndTheDocumentedFields) {
  bpf_link_info li{};
  li.id = 4;
  li.prog_id = 17;
  li.type = BPF_LINK_TYPE_CGROUP;
  li.cgroup.attach_type = BPF_CGROUP_INET4_CONNECT;
  li.cgroup.cgroup_id = 99;
  LinkView l = decodeLink("connect4", li);
  EXPECT_EQ(linkRow(l),
            (std::vector<std::string>{"4", "cgroup", "17", "cgroup_inet4_connect", "cgroup 99", "connect4"}));
  Json j = linkShowJson(l);
  EXPECT_EQ(j["prog_id"], 17u);
  EXPECT_EQ(j.begin().key(), "id");
  std::set<std::string> paths;
  keyPaths(j, "", paths);
  EXPECT_EQ(paths, documented("link", "show"));
}

TEST(ConnList, ResolvesThePodAndKeepsTheOriginalDestination) {
  warren_conn_key k{};
  k.netns_cookie = 8;
  k.family = WARREN_AF_INET;
  k.src = v4("127.0.0.1");
  k.src_port = 51000;
  warren_orig_dst v{};
  v.family = WARREN_AF_INET;
  v.ip = v4("10.244.2.21");
  v.port = 8080;
  warren_pod_meta m{};
  std::snprintf(m.namespace_, sizeof(m.namespace_), "mesh");
  std::snprintf(m.name, sizeof(m.name), "client");
  ConnView c = decodeConn(k, v, &m);
  EXPECT_EQ(connRow(c), (std::vector<std::string>{"mesh", "client", "8", "127.0.0.1:51000", "10.244.2.21:8080"}));
  EXPECT_EQ(connRow(decodeConn(k, v, nullptr))[0], "?");
  std::set<std::string> paths;
  keyPaths(connJson(c), "", paths);
  EXPECT_EQ(paths, documented("conn", "list"));
}

// ---- pod selection ------------------------------------------------------------------

TEST(SelectPod, ByNamespaceNameUniqueNameIpOrCookie) {
  std::vector<PodView> pods = {podView(11, "a", "web", {"10.0.0.1", "fd00::1"}), podView(12, "b", "web", {"10.0.0.2"}),
                               podView(13, "b", "db", {"10.0.0.3"}), podView(14, nullptr, nullptr, {"10.0.0.4"})};
  auto pick = [&](const std::string& s) -> uint64_t {
    auto r = selectPod(pods, s);
    return r ? (*r)->netnsCookie : 0;
  };
  EXPECT_EQ(pick("b/web"), 12u);
  EXPECT_EQ(pick("db"), 13u);
  EXPECT_EQ(pick("10.0.0.2"), 12u);
  EXPECT_EQ(pick("fd00:0::1"), 11u);  // any spelling of the address
  EXPECT_EQ(pick("14"), 14u);
  EXPECT_EQ(pick("10.0.0.4"), 14u);  // a pod without metadata is found by IP
  auto ambiguous = selectPod(pods, "web");
  ASSERT_FALSE(ambiguous);
  EXPECT_EQ(ambiguous.error().message, "'web' matches 2 pods (a/web, b/web): use NAMESPACE/NAME");
  auto none = selectPod(pods, "nosuch");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "no enrolled pod matches 'nosuch'");
  EXPECT_FALSE(selectPod(pods, "a/db"));
}

// ---- trace --------------------------------------------------------------------------

TEST(Trace, OptionsParseAndRefuseWhatTheyCannotRead) {
  auto o = parseTraceOptions({"--pod", "mesh/client", "--port=8080", "--count", "3", "--timeout", "10"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->pod, "mesh/client");
  EXPECT_EQ(o->port, 8080);
  EXPECT_EQ(o->count, 3u);
  EXPECT_EQ(o->timeoutMs, 10000u);
  auto none = parseTraceOptions({});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->port || none->count || none->timeoutMs);
  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{{"--port", "65536"},
                                                                            {"--port", "80x"},
                                                                            {"--count", "0"},
                                                                            {"--count", "-1"},
                                                                            {"--timeout"},
                                                                            {"--bogus"},
                                                                            {"extra"},
                                                                            {"--pod", ""}})
    EXPECT_FALSE(parseTraceOptions(bad)) << bad[0];
}

TEST(Trace, KindLabelsComeFromTheAbiList) {
#define EXPECT_LABEL(name, value, label) EXPECT_EQ(eventKindLabel(value), label);
  WARREN_EVENT_KINDS(EXPECT_LABEL)
#undef EXPECT_LABEL
#define EXPECT_REASON(name, value, label) EXPECT_FALSE(eventReason(value).empty()) << label;
  WARREN_EVENT_KINDS(EXPECT_REASON)
#undef EXPECT_REASON
  EXPECT_EQ(eventKindLabel(99), "kind 99");
}

warren_event outboundEvent(uint64_t cookie, const char* dst, uint16_t port) {
  warren_event e{};
  e.ts_ns = 5'000'000'123'456;
  e.netns_cookie = cookie;
  e.kind = WARREN_EVENT_CAPTURED_OUT;
  e.family = WARREN_AF_INET;
  e.dst = v4(dst);
  e.dst_port = port;
  return e;
}

TEST(Trace, DecodesAnEventWithItsPodAndWallClockTime) {
  PodView pod = podView(7, "mesh", "client", {"10.244.1.21"});
  warren_event e = outboundEvent(7, "10.244.2.21", 8080);
  // 2024-01-01T00:00:00Z is 1704067200 s; the event is 5000.000123456 s after boot.
  EventView v = decodeEvent(e, 1704067200'000'000'000 - 5'000'000'000'000, &pod);
  Json j = eventJson(v);
  EXPECT_EQ(j["time"], "2024-01-01T00:00:00.000123Z");
  EXPECT_EQ(j["kind"], "captured_outbound");
  EXPECT_EQ(j["namespace"], "mesh");
  EXPECT_EQ(j["name"], "client");
  EXPECT_EQ(j["src_ip"], "");  // outbound: not bound yet
  EXPECT_EQ(j["dst_ip"], "10.244.2.21");
  EXPECT_EQ(j["dst_port"], 8080);
  std::set<std::string> paths;
  keyPaths(j, "", paths);
  EXPECT_EQ(paths, documented("trace", ""));
  std::string line = eventLine(v);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  for (const char* part :
       {"2024-01-01T00:00:00.000123Z", "captured_outbound", "mesh/client", " - ", "10.244.2.21:8080", "redirected"})
    EXPECT_NE(line.find(part), std::string::npos) << part << " in " << line;
  // Without metadata the cookie stands in for the pod.
  EXPECT_NE(eventLine(decodeEvent(e, 0, nullptr)).find("cookie:7"), std::string::npos);
}

TEST(Trace, FiltersByPodAndDestinationPort) {
  PodView client = podView(7, "mesh", "client", {"10.244.1.21"});
  warren_event e = outboundEvent(7, "10.244.2.21", 8080);
  TraceOptions all;
  EXPECT_TRUE(eventMatches(all, e, nullptr));
  TraceOptions byPort;
  byPort.port = 8080;
  EXPECT_TRUE(eventMatches(byPort, e, &client));
  byPort.port = 9090;
  EXPECT_FALSE(eventMatches(byPort, e, &client));
  TraceOptions byPod;
  for (const char* sel : {"mesh/client", "client", "10.244.1.21", "7"}) {
    byPod.pod = sel;
    EXPECT_TRUE(eventMatches(byPod, e, &client)) << sel;
  }
  byPod.pod = "mesh/server";
  EXPECT_FALSE(eventMatches(byPod, e, &client));
  EXPECT_FALSE(eventMatches(byPod, e, nullptr));  // an unknown cookie is no named pod
}

// ---- stats and pod show ------------------------------------------------------------

TEST(Stats, TotalsArePerPodSumsAndFillLevelsSkipUncountableMaps) {
  std::vector<PodView> pods = {podView(1, "a", "x", {}), podView(2, "b", "y", {}), podView(3, "c", "z", {})};
  pods[0].counters = warren_counters{3, 1, 0, 0, 0, 0};
  pods[1].counters = warren_counters{2, 0, 4, 1, 6, 8};  // pods[2] has no counters entry
  MapInfoView orig;
  orig.name = WARREN_MAP_ORIG_DST;
  orig.maxEntries = 1000;
  orig.entries = 25;
  MapInfoView ring;
  ring.name = WARREN_MAP_EVENTS;
  ring.maxEntries = 4096;
  Output out = statsOutput(pods, {orig, ring});
  EXPECT_EQ(out.json["totals"]["captured_out"], 5u);
  EXPECT_EQ(out.json["totals"]["passed"], 4u);
  EXPECT_EQ(out.json["totals"]["failed_closed"], 1u);
  EXPECT_EQ(out.json["totals"]["pods"], 3u);
  EXPECT_EQ(out.json["totals"]["pods_without_counters"], 1u);
  EXPECT_EQ(out.json["pods"].size(), 2u);
  ASSERT_EQ(out.json["maps"].size(), 1u);
  EXPECT_EQ(out.json["maps"][0]["fill_percent"], 2.5);
  EXPECT_EQ(out.table.rows.back()[0], "TOTAL");
  EXPECT_EQ(out.table.headers, (std::vector<std::string>{"NAMESPACE", "NAME", "COOKIE", "OUT", "IN", "PASSED",
                                                         "FAILED_CLOSED", "QUOTA_REFUSED", "UDP_SENDS"}));
  EXPECT_EQ(out.table.rows.back(), (std::vector<std::string>{"TOTAL", "3 pods", "-", "5", "1", "4", "1", "6", "8"}));
  ASSERT_EQ(out.extra.size(), 1u);
  EXPECT_EQ(out.extra[0].rows[0], (std::vector<std::string>{WARREN_MAP_ORIG_DST, "25", "1000", "2.5%"}));
  std::set<std::string> paths;
  keyPaths(out.json, "", paths);
  EXPECT_EQ(paths, documented("stats", ""));
}

TEST(PodShow, AddsPerCpuCountersAndTheLinkToPodListsFields) {
  PodView p = podView(7, "mesh", "client", {"10.244.1.21"});
  std::vector<warren_counters> perCpu(2);
  perCpu[1].captured_out = 4;
  p.counters = sumCounters(perCpu);
  p.listeners = {{"10.244.1.21", ListenerState::Up, 55}};
  p.skLookup = LinkState::Attached;
  bpf_link_info li{};
  li.id = 3;
  li.prog_id = 9;
  li.type = BPF_LINK_TYPE_NETNS;
  li.netns.attach_type = BPF_SK_LOOKUP;
  li.netns.netns_ino = 4026532000;
  LinkView link = decodeLink("sk_lookup_7", li);
  Output out = podShowOutput(p, perCpu, &link);
  EXPECT_EQ(out.json["counters_per_cpu"][1]["captured_out"], 4u);
  EXPECT_EQ(out.json["sk_lookup"]["prog_id"], 9u);
  EXPECT_EQ(out.json["sk_lookup"]["target_id"], 4026532000u);
  std::set<std::string> paths;
  keyPaths(out.json, "", paths);
  EXPECT_EQ(paths, documented("pod", "show"));
  std::string text = out.table.render();
  for (const auto& e : out.extra) text += "\n" + e.render();
  EXPECT_EQ(text.rfind("namespace ", 0), 0u) << text;  // key/value lines, no header row
  EXPECT_NE(text.find("attached (link 3, prog 9, netns 4026532000)"), std::string::npos) << text;
  EXPECT_NE(text.find("10.244.1.21  up        55"), std::string::npos) << text;
  EXPECT_TRUE(podShowOutput(p, {}, nullptr).json["sk_lookup"].is_null());
}

}  // namespace
}  // namespace warren::ctl
