// Pod decoding: ABI bytes -> views -> JSON and table rows, and the map-shape check.

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

#include "tools/warrenctl/decode.h"
#include "tools/warrenctl/pinned.h"
#include "tools/warrenctl/table.h"

namespace warren::ctl {
namespace {

warren_pod podWithIps(const char* ip4, const char* ip6) {
  warren_pod p{};
  if (ip4) {
    p.flags |= WARREN_POD_HAS_IP4;
    EXPECT_EQ(inet_pton(AF_INET, ip4, &p.ip4), 1);
  }
  if (ip6) {
    p.flags |= WARREN_POD_HAS_IP6;
    EXPECT_EQ(inet_pton(AF_INET6, ip6, p.ip6.addr), 1);
  }
  return p;
}

void setField(char (&dst)[WARREN_META_LEN], const char* s) { std::strncpy(dst, s, sizeof(dst) - 1); }

TEST(PodIps, IPv4AndIPv6InNetworkOrderIPv4First) {
  EXPECT_EQ(podIps(podWithIps("10.1.0.5", nullptr)), std::vector<std::string>{"10.1.0.5"});
  EXPECT_EQ(podIps(podWithIps(nullptr, "fd00::5")), std::vector<std::string>{"fd00::5"});
  EXPECT_EQ(podIps(podWithIps("10.1.0.5", "2001:db8:0:1:2:3:4:5")),
            (std::vector<std::string>{"10.1.0.5", "2001:db8:0:1:2:3:4:5"}));
  EXPECT_TRUE(podIps(podWithIps(nullptr, nullptr)).empty());
}

TEST(PodIps, FieldsWithoutTheirFlagAreIgnored) {
  warren_pod p = podWithIps("10.1.0.5", nullptr);
  std::memset(p.ip6.addr, 0xab, sizeof(p.ip6.addr));  // stale bytes, no HAS_IP6
  EXPECT_EQ(podIps(p), std::vector<std::string>{"10.1.0.5"});
}

TEST(PodIps, KeysMatchWhatTheAgentInsertsIntoWarrenInbound) {
  auto keys = podIpKeys(podWithIps("10.1.0.5", "fd00::5"));
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].family, static_cast<__u32>(WARREN_AF_INET));
  const uint8_t v4[16] = {10, 1, 0, 5};
  EXPECT_EQ(std::memcmp(keys[0].ip.addr, v4, 16), 0);  // IPv4 in addr[0..3], rest zero
  EXPECT_EQ(keys[1].family, static_cast<__u32>(WARREN_AF_INET6));
  EXPECT_EQ(ipKeyString(keys[1]), "fd00::5");
  warren_ip_key bogus{};
  bogus.family = 99;
  EXPECT_EQ(ipKeyString(bogus), "?");
}

TEST(Counters, PerCpuValuesArePaddedToEightBytes) {
  EXPECT_EQ(perCpuStride(32), 32u);
  EXPECT_EQ(perCpuStride(20), 24u);
  EXPECT_EQ(perCpuStride(1), 8u);
  EXPECT_EQ(perCpuStride(8), 8u);
}

TEST(Counters, SplitAndSumOverCpus) {
  const size_t ncpus = 3, stride = perCpuStride(sizeof(warren_counters));
  std::vector<uint8_t> raw(stride * ncpus);
  for (size_t cpu = 0; cpu < ncpus; ++cpu) {
    warren_counters c{cpu + 1, 10 * (cpu + 1), 100 + cpu, cpu == 2 ? 7u : 0u, cpu, 2 * cpu};
    std::memcpy(raw.data() + cpu * stride, &c, sizeof(c));
  }
  auto per = splitPerCpu(raw, ncpus);
  ASSERT_EQ(per.size(), ncpus);
  EXPECT_EQ(per[1].captured_in, 20u);
  warren_counters sum = sumCounters(per);
  EXPECT_EQ(sum.captured_out, 6u);
  EXPECT_EQ(sum.captured_in, 60u);
  EXPECT_EQ(sum.passed, 303u);
  EXPECT_EQ(sum.failed_closed, 7u);
  EXPECT_EQ(sum.quota_refused, 3u);
  EXPECT_EQ(sum.udp_sends, 6u);
  // A short buffer yields only the CPUs it holds, never a read past its end.
  raw.resize(stride + 4);
  EXPECT_EQ(splitPerCpu(raw, ncpus).size(), 1u);
}

TEST(Meta, UnterminatedFieldStaysInBounds) {
  char field[4] = {'a', 'b', 'c', 'd'};
  EXPECT_EQ(fieldString(field, sizeof(field)), "abcd");
  char shorter[4] = {'a', 0, 'c', 'd'};
  EXPECT_EQ(fieldString(shorter, sizeof(shorter)), "a");
}

TEST(DecodePod, AllFieldsReachJsonUnderStableNames) {
  warren_pod_meta meta{};
  setField(meta.name, "checkout");
  setField(meta.namespace_, "payments");
  setField(meta.service_account, "checkout-sa");
  setField(meta.uid, "0b8e6f7c-uid");
  std::vector<warren_counters> perCpu(2);
  perCpu[0].captured_out = 2;
  perCpu[1].captured_out = 5;
  perCpu[1].failed_closed = 1;
  PodView v = decodePod(77, podWithIps("10.1.0.5", "fd00::5"), &meta, &perCpu);
  v.listeners = {{"10.1.0.5", ListenerState::Up, 4242}, {"fd00::5", ListenerState::Missing, 0}};
  v.skLookup = LinkState::Attached;
  v.skLookupLinkId = 9;

  auto j = podJson(v);
  EXPECT_EQ(j["netns_cookie"], 77);
  EXPECT_EQ(j["name"], "checkout");
  EXPECT_EQ(j["namespace"], "payments");
  EXPECT_EQ(j["service_account"], "checkout-sa");
  EXPECT_EQ(j["uid"], "0b8e6f7c-uid");
  EXPECT_EQ(j["ips"], nlohmann::ordered_json({"10.1.0.5", "fd00::5"}));
  EXPECT_EQ(j["counters"]["captured_out"], 7);
  EXPECT_EQ(j["counters"]["captured_in"], 0);
  EXPECT_EQ(j["counters"]["passed"], 0);
  EXPECT_EQ(j["counters"]["failed_closed"], 1);
  EXPECT_EQ(j["counters"]["quota_refused"], 0);
  EXPECT_EQ(j["counters"]["udp_sends"], 0);
  EXPECT_EQ(j["inbound_listener"], "partial");
  EXPECT_EQ(j["listeners"][0]["ip"], "10.1.0.5");
  EXPECT_EQ(j["listeners"][0]["state"], "up");
  EXPECT_EQ(j["listeners"][0]["socket_cookie"], 4242);
  EXPECT_EQ(j["listeners"][1]["state"], "missing");
  EXPECT_EQ(j["sk_lookup_link"], "attached");
  EXPECT_EQ(j["sk_lookup_link_id"], 9);

  auto row = podRow(v);
  ASSERT_EQ(row.size(), podHeaders().size());
  EXPECT_EQ(row, (std::vector<std::string>{"payments", "checkout", "10.1.0.5,fd00::5", "77", "7", "0", "0", "1", "0",
                                           "0", "partial", "attached"}));
}

TEST(DecodePod, MissingMetadataAndCountersAreShownAsSuch) {
  PodView v = decodePod(5, podWithIps(nullptr, nullptr), nullptr, nullptr);
  EXPECT_FALSE(v.hasMeta);
  EXPECT_FALSE(v.counters.has_value());
  auto j = podJson(v);
  EXPECT_TRUE(j["counters"].is_null());
  EXPECT_EQ(j["name"], "");
  EXPECT_EQ(j["ips"], nlohmann::ordered_json::array());
  EXPECT_EQ(j["sk_lookup_link"], "unknown");
  auto row = podRow(v);
  EXPECT_EQ(row[0], "?");
  EXPECT_EQ(row[1], "?");
  EXPECT_EQ(row[2], "-");
  EXPECT_EQ(row[4], "-");
  EXPECT_EQ(row[9], "-");
  EXPECT_EQ(row[10], "missing");  // no IPs: nothing can be steered to the tunnel
}

TEST(DecodePod, EmptyCountersEntryIsZeroNotMissing) {
  std::vector<warren_counters> none;
  PodView v = decodePod(5, podWithIps("10.0.0.1", nullptr), nullptr, &none);
  ASSERT_TRUE(v.counters.has_value());
  EXPECT_EQ(podJson(v)["counters"]["passed"], 0);
}

TEST(Listener, SockhashLookupResultMapsToState) {
  EXPECT_EQ(listenerStateFromLookup(0, 0), ListenerState::Up);
  EXPECT_EQ(listenerStateFromLookup(-1, ENOENT), ListenerState::Missing);
  EXPECT_EQ(listenerStateFromLookup(-1, EOPNOTSUPP), ListenerState::Unknown);  // kernel without syscall lookup
  EXPECT_EQ(listenerStateFromLookup(-1, ENOSPC), ListenerState::Unknown);      // 4-byte sockhash value
}

TEST(Listener, SummaryOverThePodsIps) {
  using L = IpListener;
  EXPECT_EQ(listenerSummary({}), "missing");
  EXPECT_EQ(listenerSummary({L{"a", ListenerState::Up, 1}, L{"b", ListenerState::Up, 2}}), "up");
  EXPECT_EQ(listenerSummary({L{"a", ListenerState::Up, 1}, L{"b", ListenerState::Missing, 0}}), "partial");
  EXPECT_EQ(listenerSummary({L{"a", ListenerState::Missing, 0}}), "missing");
  EXPECT_EQ(listenerSummary({L{"a", ListenerState::Up, 1}, L{"b", ListenerState::Unknown, 0}}), "unknown");
}

TEST(DecodePod, SortedByNamespaceNameThenCookie) {
  std::vector<PodView> pods(4);
  pods[0].ns = "b", pods[0].name = "x", pods[0].netnsCookie = 1;
  pods[1].ns = "a", pods[1].name = "z", pods[1].netnsCookie = 2;
  pods[2].ns = "a", pods[2].name = "y", pods[2].netnsCookie = 4;
  pods[3].ns = "a", pods[3].name = "y", pods[3].netnsCookie = 3;
  sortPods(pods);
  std::vector<uint64_t> order;
  for (const auto& p : pods) order.push_back(p.netnsCookie);
  EXPECT_EQ(order, (std::vector<uint64_t>{3, 4, 2, 1}));
}

TEST(MapShape, MatchesTheAbiOrSaysWhatDiffers) {
  const MapSpec& spec = enrolledMap();
  EXPECT_EQ(spec.keySize, 8u);
  EXPECT_EQ(spec.valueSize, sizeof(warren_pod));
  EXPECT_TRUE(checkMapShape(spec, BPF_MAP_TYPE_HASH, 8, sizeof(warren_pod)).ok());
  auto bad = checkMapShape(spec, BPF_MAP_TYPE_HASH, 8, sizeof(warren_pod) + 4);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("warren_enrolled is hash with key/value size 8/" +
                                     std::to_string(sizeof(warren_pod) + 4)),
            std::string::npos)
      << bad.error().message;
  EXPECT_FALSE(checkMapShape(spec, BPF_MAP_TYPE_LRU_HASH, 8, sizeof(warren_pod)).ok());
  EXPECT_EQ(countersMap().type, BPF_MAP_TYPE_PERCPU_HASH);
  EXPECT_EQ(inboundMap().type, BPF_MAP_TYPE_SOCKHASH);
  EXPECT_EQ(inboundMap().keySize, sizeof(warren_ip_key));
  EXPECT_EQ(podMetaMap().valueSize, sizeof(warren_pod_meta));
}

TEST(Table, AlignsColumnsWithoutTrailingSpaces) {
  Table t{{"A", "LONGER", "C"}, {{"xxxx", "1", ""}, {"y", "22", "z"}}};
  EXPECT_EQ(t.render(), "A     LONGER  C\nxxxx  1\ny     22      z\n");
}

TEST(Table, RowsWiderThanTheHeaderStillAlign) {
  Table t{{"A"}, {{"1", "x"}, {"22", "y"}}};
  EXPECT_EQ(t.render(), "A\n1   x\n22  y\n");
}

TEST(Table, ControlCharactersNeverReachTheTerminal) {
  Table t{{"NAME"}, {{std::string("evil\x1b[2Jname\n")}}};
  EXPECT_EQ(t.render(), "NAME\nevil?[2Jname?\n");
}

TEST(Table, JoinLimitedCountsWhatItLeftOut) {
  EXPECT_EQ(joinLimited({}, 3), "");
  EXPECT_EQ(joinLimited({"1", "2"}, 3), "1,2");
  EXPECT_EQ(joinLimited({"1", "2", "3", "4", "5"}, 3), "1,2,3 +2");
}

}  // namespace
}  // namespace warren::ctl
