// The CA flags as both proxies read them: through getopt_long, in a table nested
// with the binary's own options and the audit options, so a flag of each kind
// reaches its parser and the defaults hold for what is not given.

#include "identity/ca_flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "audit/audit_flags.h"

namespace warren::identity {
namespace {

struct Parsed {
  bool ok = true;
  CaFlags ca;
  audit::AuditFlags audit;
  std::string own;  // --own's value
};

Parsed parseArgs(std::vector<std::string> args) {
  static const std::vector<option> table =
      audit::withAuditOptions(withCaOptions({{"own", required_argument, nullptr, 'o'}}));
  args.insert(args.begin(), "prog");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Parsed p;
  optind = 0;  // glibc: a full re-initialisation, for a new argv
  opterr = 0;
  int c;
  while ((c = getopt_long(static_cast<int>(args.size()), argv.data(), "", table.data(), nullptr)) != -1) {
    if (audit::parseAuditFlag(c, optarg, p.audit, "prog") == FlagOutcome::kTaken) continue;
    switch (parseCaFlag(c, optarg, p.ca, "prog")) {
      case FlagOutcome::kTaken: continue;
      case FlagOutcome::kBadValue: p.ok = false; continue;
      case FlagOutcome::kNotOurs: break;
    }
    if (c == 'o')
      p.own = optarg;
    else
      p.ok = false;
  }
  return p;
}

TEST(CaFlags, DefaultsAreTheLocalCa) {
  Parsed p = parseArgs({});
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.ca.choice.caDir, "/var/lib/warren/ca");
  EXPECT_EQ(p.ca.choice.caAddress, "");
  EXPECT_EQ(p.ca.choice.clusterId, "Kubernetes");
  EXPECT_EQ(p.ca.certTtl, std::chrono::seconds(86400));
  EXPECT_EQ(describeCa(p.ca), "local /var/lib/warren/ca");
}

TEST(CaFlags, EveryFlagReachesItsParserInANestedTable) {
  Parsed p = parseArgs({"--own", "x", "--ca-dir", "/d", "--ca-address", "istiod:15012", "--ca-root-cert", "/r.pem",
                        "--ca-token-file", "/t", "--cluster-id", "c1", "--cert-ttl", "600", "--audit-dir", "/a"});
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.own, "x");
  EXPECT_EQ(p.ca.choice.caDir, "/d");
  EXPECT_EQ(p.ca.choice.caAddress, "istiod:15012");
  EXPECT_EQ(p.ca.choice.caRootCert, "/r.pem");
  EXPECT_EQ(p.ca.choice.caTokenFile, "/t");
  EXPECT_EQ(p.ca.choice.clusterId, "c1");
  EXPECT_EQ(p.ca.certTtl, std::chrono::seconds(600));
  // The audit options come after the CA table's end: still read.
  EXPECT_EQ(p.audit.writer.dir, "/a");
  EXPECT_EQ(describeCa(p.ca), "istio istiod:15012");
}

TEST(CaFlags, ABadLifetimeIsRefused) {
  for (const char* bad : {"1", "0", "-5", "10x", ""}) EXPECT_FALSE(parseArgs({"--cert-ttl", bad}).ok) << bad;
  EXPECT_TRUE(parseArgs({"--cert-ttl", "2"}).ok);
}

TEST(CaFlags, TheTableEndsOnce) {
  const auto table = audit::withAuditOptions(withCaOptions({{"own", required_argument, nullptr, 'o'}}));
  size_t ends = 0;
  for (const auto& o : table) ends += o.name == nullptr;
  EXPECT_EQ(ends, 1u);
  EXPECT_EQ(table.back().name, nullptr);
}

}  // namespace
}  // namespace warren::identity
