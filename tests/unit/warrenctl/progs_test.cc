// Program and link decoding from hand-made bpf_prog_info / bpf_link_info.

#include <cstring>

#include <gtest/gtest.h>

#include "tools/warrenctl/progs.h"

namespace warren::ctl {
namespace {

bpf_link_info cgroupLink(uint32_t id, uint32_t prog, uint64_t cgroup, bpf_attach_type attach) {
  bpf_link_info i{};
  i.type = BPF_LINK_TYPE_CGROUP;
  i.id = id;
  i.prog_id = prog;
  i.cgroup.cgroup_id = cgroup;
  i.cgroup.attach_type = attach;
  return i;
}

bpf_link_info netnsLink(uint32_t id, uint32_t prog, uint32_t ino) {
  bpf_link_info i{};
  i.type = BPF_LINK_TYPE_NETNS;
  i.id = id;
  i.prog_id = prog;
  i.netns.netns_ino = ino;
  i.netns.attach_type = BPF_SK_LOOKUP;
  return i;
}

TEST(DecodeLink, CgroupLinkNamesAttachTypeAndCgroup) {
  LinkView l = decodeLink("connect4", cgroupLink(211, 373, 1, BPF_CGROUP_INET4_CONNECT));
  EXPECT_EQ(l.pin, "connect4");
  EXPECT_EQ(l.id, 211u);
  EXPECT_EQ(l.progId, 373u);
  EXPECT_EQ(l.type, "cgroup");
  EXPECT_EQ(l.attachType, "cgroup_inet4_connect");
  EXPECT_EQ(linkTarget(l), "cgroup 1");
  EXPECT_EQ(decodeLink("sockops", cgroupLink(1, 2, 3, BPF_CGROUP_SOCK_OPS)).attachType, "cgroup_sock_ops");
  EXPECT_EQ(decodeLink("getpeername6", cgroupLink(1, 2, 3, BPF_CGROUP_INET6_GETPEERNAME)).attachType,
            "cgroup_inet6_getpeername");
}

TEST(DecodeLink, NetnsLinkAndItsDetachedState) {
  LinkView l = decodeLink("sk_lookup_83", netnsLink(216, 380, 4026532246u));
  EXPECT_EQ(l.type, "netns");
  EXPECT_EQ(l.attachType, "sk_lookup");
  EXPECT_EQ(linkTarget(l), "netns 4026532246");
  EXPECT_EQ(linkJson(l)["attached"], true);
  LinkView gone = decodeLink("sk_lookup_84", netnsLink(217, 380, 0));
  EXPECT_EQ(linkTarget(gone), "netns (detached)");
  EXPECT_EQ(linkJson(gone)["attached"], false);
}

TEST(DecodeLink, UnknownTypesAreNamedByNumber) {
  bpf_link_info i{};
  i.type = 9999;
  LinkView l = decodeLink("x", i);
  EXPECT_EQ(l.type, "type 9999");
  EXPECT_EQ(linkTarget(l), "-");
}

TEST(DecodeLink, JsonFields) {
  auto j = linkJson(decodeLink("connect6", cgroupLink(7, 8, 1234, BPF_CGROUP_INET6_CONNECT)));
  EXPECT_EQ(j, nlohmann::ordered_json({{"pin", "connect6"},
                                       {"id", 7},
                                       {"type", "cgroup"},
                                       {"attach_type", "cgroup_inet6_connect"},
                                       {"target_type", "cgroup"},
                                       {"target_id", 1234},
                                       {"attached", true}}));
}

TEST(Time, LoadTimeCountsFromBootAndPrintsAsUtc) {
  EXPECT_EQ(bootTimeToUnix(0, 1'700'000'000'000'000'000), 0u);  // kernel gave none
  EXPECT_EQ(bootTimeToUnix(5'500'000'000, 1'700'000'000'000'000'000), 1'700'000'005u);
  EXPECT_EQ(formatUnixTime(1'700'000'000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(formatUnixTime(0), "-");
}

TEST(Tag, EightBytesOfLowercaseHex) {
  const uint8_t tag[8] = {0xf1, 0x08, 0x62, 0xeb, 0x92, 0x3e, 0x11, 0x17};
  EXPECT_EQ(tagHex(tag, sizeof(tag)), "f10862eb923e1117");
}

bpf_prog_info progInfo() {
  bpf_prog_info i{};
  i.id = 380;
  i.type = BPF_PROG_TYPE_SK_LOOKUP;
  std::memcpy(i.name, "warren_sk_looku", 16);  // the kernel's cut name, NUL included
  const uint8_t tag[8] = {0xf5, 0x20, 0xc6, 0xa5, 0xaf, 0x57, 0xb1, 0x5a};
  std::memcpy(i.tag, tag, sizeof(tag));
  i.gpl_compatible = 1;
  i.load_time = 2'000'000'000;
  i.created_by_uid = 0;
  i.run_cnt = 12;
  i.run_time_ns = 3400;
  i.xlated_prog_len = 456;
  i.jited_prog_len = 300;
  return i;
}

TEST(DecodeProg, PrefersTheFullNameAndKeepsEveryField) {
  ProgView p = decodeProg(progInfo(), "warren_sk_lookup", 1'700'000'000'000'000'000, {3, 5});
  EXPECT_EQ(p.name, "warren_sk_lookup");
  EXPECT_EQ(decodeProg(progInfo(), "", 0, {}).name, "warren_sk_looku");
  p.links = {decodeLink("sk_lookup_83", netnsLink(216, 380, 4026532246u)),
             decodeLink("sk_lookup_85", netnsLink(217, 380, 4026532318u))};
  auto j = progJson(p);
  EXPECT_EQ(j["id"], 380);
  EXPECT_EQ(j["type"], "sk_lookup");
  EXPECT_EQ(j["tag"], "f520c6a5af57b15a");
  EXPECT_EQ(j["gpl_compatible"], true);
  EXPECT_EQ(j["loaded_at"], 1'700'000'002);
  EXPECT_EQ(j["uid"], 0);
  EXPECT_EQ(j["run_cnt"], 12);
  EXPECT_EQ(j["run_time_ns"], 3400);
  EXPECT_EQ(j["bytes_xlated"], 456);
  EXPECT_EQ(j["bytes_jited"], 300);
  EXPECT_EQ(j["map_ids"], nlohmann::ordered_json({3, 5}));
  ASSERT_EQ(j["links"].size(), 2u);
  EXPECT_EQ(j["links"][1]["pin"], "sk_lookup_85");

  auto row = progRow(p);
  ASSERT_EQ(row.size(), progHeaders().size());
  EXPECT_EQ(
      row, (std::vector<std::string>{"380", "sk_lookup", "warren_sk_lookup", "f520c6a5af57b15a", "sk_lookup", "216,217",
                                     "netns 4026532246,4026532318", "12", "3400", "2023-11-14T22:13:22Z"}));
}

TEST(DecodeProg, RowStaysShortWithALinkPerPod) {
  ProgView p = decodeProg(progInfo(), "", 0, {});
  for (uint32_t i = 1; i <= 5; ++i)
    p.links.push_back(decodeLink("sk_lookup_" + std::to_string(i), netnsLink(i, 380, 100 + i)));
  p.links[2].targetId = 0;
  auto row = progRow(p);
  EXPECT_EQ(row[5], "1,2,3 +2");
  EXPECT_EQ(row[6], "netns 101,102,(detached) +2");
}

TEST(DecodeProg, MixedTargetsNameTheirKind) {
  ProgView p = decodeProg(progInfo(), "", 0, {});
  p.links = {decodeLink("a", cgroupLink(1, 380, 1, BPF_CGROUP_INET4_CONNECT)), decodeLink("b", netnsLink(2, 380, 42))};
  auto row = progRow(p);
  EXPECT_EQ(row[4], "cgroup_inet4_connect,sk_lookup");
  EXPECT_EQ(row[6], "cgroup 1,netns 42");
}

TEST(DecodeProg, ProgramIdsAreUniqueAndOrdered) {
  std::vector<LinkView> links = {decodeLink("a", netnsLink(1, 9, 1)), decodeLink("b", netnsLink(2, 3, 1)),
                                 decodeLink("c", netnsLink(3, 9, 1))};
  EXPECT_EQ(progIdsOf(links), (std::vector<uint32_t>{3, 9}));
}

}  // namespace
}  // namespace warren::ctl
