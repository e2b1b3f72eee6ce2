// The state's interned strings (state/atom.h) and its flat map (state/flat_map.h).

#include "state/atom.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <latch>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "source/cluster_types.h"
#include "state/flat_map.h"
#include "state/snapshot_conversion.h"

namespace warren::state {
namespace {

TEST(Atom, TheSameStringIsHeldOnce) {
  const std::string built = std::string("kube-") + "system";
  Atom a("kube-system"), b(built), c(std::string_view("kube-system"));
  EXPECT_EQ(&a.str(), &b.str());
  EXPECT_EQ(&a.str(), &c.str());
  EXPECT_EQ(a, b);
  EXPECT_NE(Atom("kube-public"), a);
  EXPECT_NE(&Atom("kube-public").str(), &a.str());
}

TEST(Atom, ReadsAsTheStringItHolds) {
  const Atom ns = "shop";
  const std::string& s = ns;
  EXPECT_EQ(s, "shop");
  EXPECT_EQ(ns, "shop");
  EXPECT_EQ(ns, std::string("shop"));
  EXPECT_EQ(ns + "/web", "shop/web");
  EXPECT_EQ("ns " + ns, "ns shop");
  EXPECT_EQ(ns.size(), 4u);
  EXPECT_TRUE(Atom().empty());
  EXPECT_EQ(Atom(), Atom(""));
  EXPECT_EQ(Atom(), "");
}

TEST(Atom, OrdersAsItsString) {
  // Interned in the reverse order of their text: the order must not follow the table.
  std::vector<std::string> text = {"zeta", "mid", "alpha", "alphabet", ""};
  std::vector<Atom> atoms(text.begin(), text.end());
  std::sort(atoms.begin(), atoms.end());
  std::sort(text.begin(), text.end());
  ASSERT_EQ(atoms.size(), text.size());
  for (size_t i = 0; i < text.size(); ++i) EXPECT_EQ(atoms[i].str(), text[i]);
  EXPECT_LT(Atom("a"), "b");
  EXPECT_GT(Atom("b"), std::string("a"));
}

TEST(Atom, ThreadsInterningAtOnceGetOneStringEach) {
  // Eight threads, released together, intern the same 50,000 strings in
  // different orders: every thread must get the same pointer for a string, and
  // the table must hold it once (the shards rehash while others insert; the
  // ThreadSanitizer stage runs this too).
  constexpr int kThreads = 8, kStrings = 50000;
  std::latch start(kThreads);
  const size_t before = Atom::tableSize();
  std::vector<std::vector<const std::string*>> seen(kThreads, std::vector<const std::string*>(kStrings));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t, &seen, &start] {
      start.arrive_and_wait();
      for (int i = 0; i < kStrings; ++i) {
        const int k = (i * 7 + t * 1231) % kStrings;
        seen[t][k] = &Atom("concurrent-" + std::to_string(k)).str();
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(seen[t], seen[0]) << "thread " << t;
  std::set<const std::string*> distinct(seen[0].begin(), seen[0].end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kStrings));
  for (int i = 0; i < kStrings; ++i) EXPECT_EQ(*seen[0][i], "concurrent-" + std::to_string(i));
  EXPECT_EQ(Atom::tableSize(), before + kStrings);
}

// The table never frees, so what is unique per object must stay out of it: a
// CronJob's every Job brings pods with a new `controller-uid` and `job-name`. A
// thousand such pods add their label keys once, not their values.
TEST(Atom, APodsUniqueLabelValuesAreNotInterned) {
  source::Namespace ns{"jobs", {}};
  const SnapshotOptions o;
  auto pod = [](int i) {
    source::Pod p;
    p.ns = "jobs";
    p.name = "report-" + std::to_string(i);
    p.uid = "uid-" + std::to_string(i);
    p.serviceAccount = "default";
    p.labels = {{"batch.kubernetes.io/controller-uid", "9f1c2e70-0000-4000-8000-" + std::to_string(100000 + i)},
                {"job-name", "report-2890" + std::to_string(i)},
                {"app", "report"}};
    p.ips = {"10.9." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)};
    return p;
  };
  Workload first = snapshot_conversion::podWorkload(pod(0), &ns, o);
  ASSERT_EQ(first.labels.at("job-name"), "report-28900");
  const size_t before = Atom::tableSize();
  for (int i = 1; i <= 1000; ++i) {
    Workload w = snapshot_conversion::podWorkload(pod(i), &ns, o);
    ASSERT_EQ(w.labels.size(), 3u);
  }
  EXPECT_LT(Atom::tableSize() - before, 10u);
}

TEST(FlatMap, ReadsAndWritesAsAStdMap) {
  FlatMap<Atom, Atom> labels;
  labels["version"] = "v2";
  labels["app"] = "web";
  labels["app"] = "shop";
  EXPECT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels.at("app"), "shop");
  EXPECT_EQ(labels.count(std::string("version")), 1u);
  EXPECT_EQ(labels.find("tier"), labels.end());
  EXPECT_FALSE(labels.emplace("app", "other").second);
  EXPECT_TRUE(labels.emplace("tier", "front").second);
  EXPECT_THROW(labels.at("missing"), std::out_of_range);
  std::vector<std::string> keys;
  for (const auto& [k, v] : labels) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"app", "tier", "version"}));
  EXPECT_EQ(labels.erase("tier"), 1u);
  EXPECT_EQ(labels.erase("tier"), 0u);
  EXPECT_EQ(labels.size(), 2u);
}

TEST(FlatMap, EqualsTheStdMapItWasMadeFrom) {
  const std::map<std::string, std::string> m = {{"b", "2"}, {"a", "1"}, {"c", "3"}};
  FlatMap<Atom, Atom> flat = m;
  FlatMap<Atom, Atom> byHand;
  byHand["c"] = "3";
  byHand["a"] = "1";
  byHand["b"] = "2";
  EXPECT_EQ(flat, byHand);
  byHand["b"] = "changed";
  EXPECT_NE(flat, byHand);
  std::map<std::string, std::string> back;
  for (const auto& [k, v] : flat) back[k] = v;
  EXPECT_EQ(back, m);
}

}  // namespace
}  // namespace warren::state
