// StateFeed (state/feed): a YAML directory read at start and at each change, the
// last good state kept when it cannot be read; and the API configuration checked
// at start. The API's list and watch are the e2e suite's (tests/e2e/kube_test.cc).

#include "state/feed/state_feed.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace warren::state {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const char* kOnePod = R"(apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {warren.io/mode: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: mesh}
spec: {serviceAccountName: sa-a}
status: {podIP: 10.244.1.10}
)";

const char* kTwoPods = R"(apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {warren.io/mode: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: mesh}
spec: {serviceAccountName: sa-a}
status: {podIP: 10.244.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: mesh}
spec: {serviceAccountName: sa-b}
status: {podIP: 10.244.1.11}
)";

StateFeedOptions fromDirectory(const std::string& dir) {
  StateFeedOptions o;
  o.configDir = dir;
  return o;
}

class StateFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/warren-feed-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // As an operator's editor saves: write beside, rename into place.
  void save(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/." + name + ".tmp") << text;
    fs::rename(dir_ + "/." + name + ".tmp", dir_ + "/" + name);
  }
  StateFeed::Publish recorder() {
    return [this](ClusterStatePtr next) {
      std::lock_guard lock(mu_);
      workloads_.push_back(next->workloads().size());
      states_.push_back(next);
      cv_.notify_all();
    };
  }
  bool waitForPublished(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return workloads_.size() >= n; });
  }

  std::string dir_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<size_t> workloads_;  // per state published, its workload count
  std::vector<ClusterStatePtr> states_;
};

TEST_F(StateFeedTest, ADirectoryIsReadBeforeStartReturnsAndAgainAtEachSave) {
  save("cluster.yaml", kOnePod);
  auto feed = StateFeed::start(fromDirectory(dir_), recorder());
  ASSERT_TRUE(feed) << feed.error().message;
  {
    std::lock_guard lock(mu_);
    EXPECT_EQ(workloads_, std::vector<size_t>{1});
  }
  EXPECT_TRUE((*feed)->synced());
  EXPECT_FALSE((*feed)->fromApi());
  EXPECT_EQ((*feed)->describe(), "directory " + dir_);
  EXPECT_EQ((*feed)->kube(), nullptr);

  save("cluster.yaml", kTwoPods);
  ASSERT_TRUE(waitForPublished(2));
  std::lock_guard lock(mu_);
  EXPECT_EQ(workloads_.back(), 2u);
}

// A save changes what its file's objects reach and nothing else (issue 17): the
// other file's pods are the very objects of the state before, not new copies
// (the state's maps share chunks of up to 128 entries, so the pod checked is
// hundreds of keys away from the one changed).
TEST_F(StateFeedTest, ASaveConvertsOnlyWhatItsFileChanged) {
  std::string many = kOnePod;
  for (int i = 0; i < 300; ++i)
    many += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: m" + std::to_string(1000 + i) +
            ", namespace: mesh}\nstatus: {podIP: 10.244." + std::to_string(2 + i / 200) + "." +
            std::to_string(i % 200 + 1) + "}\n";
  save("a.yaml", many);
  save("b.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: zz, namespace: mesh}\nstatus: {podIP: 10.244.1.11}\n");
  auto feed = StateFeed::start(fromDirectory(dir_), recorder());
  ASSERT_TRUE(feed) << feed.error().message;
  save("b.yaml",
       "apiVersion: v1\nkind: Pod\nmetadata: {name: zz, namespace: mesh, labels: {app: b}}\n"
       "status: {podIP: 10.244.1.11}\n");
  (*feed)->reload();
  ASSERT_TRUE(waitForPublished(2));
  std::lock_guard lock(mu_);
  const ClusterState& before = *states_.front();
  const ClusterState& after = *states_.back();
  ASSERT_EQ(after.workloads().size(), 302u);
  EXPECT_EQ(after.findWorkload("mesh/zz")->labels.at("app"), "b");
  EXPECT_EQ(&before.workloads().at("mesh/a"), &after.workloads().at("mesh/a"));
}

TEST_F(StateFeedTest, ADirectoryThatCannotBeReadKeepsTheLastGoodState) {
  save("cluster.yaml", kOnePod);
  auto feed = StateFeed::start(fromDirectory(dir_), recorder());
  ASSERT_TRUE(feed) << feed.error().message;
  ASSERT_TRUE(waitForPublished(1));
  // Gone for a moment (a ConfigMap's symlink swap, an unmounted volume): nothing
  // published, so the proxies keep judging by the last good state.
  fs::remove_all(dir_);
  (*feed)->reload();
  {
    std::lock_guard lock(mu_);
    EXPECT_EQ(workloads_, std::vector<size_t>{1});
  }
  fs::create_directory(dir_);
  save("cluster.yaml", kTwoPods);
  (*feed)->reload();
  ASSERT_TRUE(waitForPublished(2));
  std::lock_guard lock(mu_);
  EXPECT_EQ(workloads_.back(), 2u);
}

TEST_F(StateFeedTest, AMissingDirectoryOrAnUnusableKubeconfigFailsTheStart) {
  auto missing = StateFeed::start(fromDirectory(dir_ + "/nonexistent"), recorder());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find(dir_ + "/nonexistent"), std::string::npos) << missing.error().message;

  StateFeedOptions kubeconfig;
  kubeconfig.kubeconfig = dir_ + "/no-kubeconfig";
  auto badConfig = StateFeed::start(kubeconfig, recorder());
  ASSERT_FALSE(badConfig);
  EXPECT_NE(badConfig.error().message.find("Kubernetes API"), std::string::npos) << badConfig.error().message;

  kubeconfig.kubeInCluster = true;
  auto both = StateFeed::start(kubeconfig, recorder());
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("not both"), std::string::npos) << both.error().message;
  std::lock_guard lock(mu_);
  EXPECT_TRUE(workloads_.empty());
}

// Each save rebuilds the state with every standing problem of the directory: a
// broken policy is logged when it appears, not again at every later save while
// it stands, and again once it came back after a fix.
TEST_F(StateFeedTest, AStandingProblemIsLoggedOnceNotAtEveryRebuild) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_pattern("%v");
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  const std::string broken = std::string(kOnePod) + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: broken, namespace: mesh}
spec: {action: ALLOW, rules: [{to: [{operation: {paths: ["/a/{*}"]}}]}], bogus: 1}
)";
  save("cluster.yaml", broken);
  auto feed = StateFeed::start(fromDirectory(dir_), recorder());
  ASSERT_TRUE(feed) << feed.error().message;
  auto count = [&] {
    const std::string text = out.str();
    size_t n = 0;
    for (size_t at = text.find("broken"); at != std::string::npos; at = text.find("broken", at + 1)) n++;
    return n;
  };
  const size_t first = count();
  (*feed)->reload();
  (*feed)->reload();
  const size_t standing = count();
  save("cluster.yaml", kOnePod);  // fixed
  (*feed)->reload();
  save("cluster.yaml", broken);  // and back
  (*feed)->reload();
  const size_t back = count();
  feed->reset();  // its watcher thread logs no more
  spdlog::set_default_logger(previous);
  EXPECT_GT(first, 0u) << out.str();
  EXPECT_EQ(standing, first) << out.str();
  EXPECT_EQ(back, 2 * first) << out.str();
}

}  // namespace
}  // namespace warren::state
