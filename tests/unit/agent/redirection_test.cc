// The redirection annotation's plan (pure) and the worker that PATCHes it.

#include "agent/redirection.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>

#include "source/enrollment.h"

namespace warren::agent {
namespace {

using namespace std::chrono_literals;

source::Pod pod(const std::string& ns, const std::string& name, const std::string& node, bool annotated) {
  source::Pod p;
  p.uid = "uid-" + name;
  p.name = name;
  p.ns = ns;
  p.nodeName = node;
  if (annotated) p.annotations[source::kRedirectionAnnotation] = source::kRedirectionEnabled;
  return p;
}

source::Snapshot view() {
  source::Snapshot s;
  s.pods["mesh/new"] = pod("mesh", "new", "node1", false);           // captured, not yet annotated
  s.pods["mesh/done"] = pod("mesh", "done", "node1", true);          // captured and annotated
  s.pods["mesh/released"] = pod("mesh", "released", "node1", true);  // annotated, no longer captured
  s.pods["plain/never"] = pod("plain", "never", "node1", false);     // neither
  s.pods["mesh/theirs"] = pod("mesh", "theirs", "node2", true);      // another node's agent's business
  s.pods["mesh/other-value"] = pod("mesh", "other-value", "node1", false);
  s.pods["mesh/other-value"].annotations[source::kRedirectionAnnotation] = "disabled";
  return s;
}

const std::set<std::string> kCaptured = {"mesh/new", "mesh/done", "mesh/other-value"};

TEST(PlanRedirection, AnnotatedExactlyWhenCapturedOnThisNode) {
  auto plan = planRedirection(view(), kCaptured, "node1", {});
  std::vector<RedirectionChange> want = {
      {"mesh/new", "mesh", "new", "uid-new", true},
      {"mesh/other-value", "mesh", "other-value", "uid-other-value", true},
      {"mesh/released", "mesh", "released", "uid-released", false},
  };
  EXPECT_EQ(plan, want);
}

TEST(PlanRedirection, WhatWasSentIsNotSentAgainUntilTheViewShowsIt) {
  RedirectionSent sent = {{"mesh/new", {"uid-new", true}}, {"mesh/released", {"uid-released", false}}};
  auto plan = planRedirection(view(), kCaptured, "node1", sent);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].key, "mesh/other-value");

  // A pod of the same name but another uid (recreated) is a new pod: planned.
  source::Snapshot recreated = view();
  recreated.pods["mesh/new"].uid = "uid-new-2";
  plan = planRedirection(recreated, kCaptured, "node1", sent);
  EXPECT_EQ(plan.size(), 2u);
}

TEST(PlanRedirection, SentRecordsEndWhenTheViewAgreesOrThePodIsGone) {
  source::Snapshot s = view();
  RedirectionSent sent = {{"mesh/done", {"uid-done", true}},         // the view shows it now
                          {"mesh/new", {"uid-new", true}},           // not yet
                          {"mesh/gone", {"uid-gone", false}},        // no such pod any more
                          {"mesh/released", {"uid-other", false}}};  // another pod by that name
  pruneRedirectionSent(s, sent);
  EXPECT_EQ(sent, (RedirectionSent{{"mesh/new", {"uid-new", true}}}));
  // Removed by someone else after the view agreed: planned again.
  s.pods["mesh/done"].annotations.clear();
  auto plan = planRedirection(s, kCaptured, "node1", sent);
  EXPECT_TRUE(std::any_of(plan.begin(), plan.end(), [](const auto& c) { return c.key == "mesh/done" && c.enabled; }));
}

TEST(RedirectionAnnotator, PatchesEachWantedChangeAndReportsIt) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> patched, reported;
  RedirectionAnnotator annotator(
      [&](const std::string& ns, const std::string& name, bool enabled) -> Status {
        std::lock_guard lock(mu);
        patched.push_back(ns + "/" + name + (enabled ? "=on" : "=off"));
        if (name == "refused") return makeError("HTTP 403");
        return okStatus();
      },
      [&](const RedirectionChange& c, const Status& st) {
        std::lock_guard lock(mu);
        reported.push_back(c.key + (st ? " ok" : " " + st.error().message));
        cv.notify_all();
      });
  annotator.want({{"mesh/a", "mesh", "a", "u", true}, {"mesh/refused", "mesh", "refused", "r", false}});
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return reported.size() == 2; }));
  EXPECT_EQ(patched, (std::vector<std::string>{"mesh/a=on", "mesh/refused=off"}));
  EXPECT_EQ(reported, (std::vector<std::string>{"mesh/a ok", "mesh/refused HTTP 403"}));
}

// A reconcile during a PATCH plans it again (the agent records it only once the
// answer is in): the annotator must not send it twice, or the second could land
// after a later opposite change. Seen in CI as a second "set" PATCH where the
// test awaited the removal.
TEST(RedirectionAnnotator, AChangePlannedAgainWhileInFlightIsNotSentTwice) {
  std::mutex mu;
  std::condition_variable cv;
  bool started = false, release = false;
  std::vector<std::string> patched, reported;
  RedirectionAnnotator annotator(
      [&](const std::string& ns, const std::string& name, bool enabled) -> Status {
        std::unique_lock lock(mu);
        patched.push_back(ns + "/" + name + (enabled ? "=on" : "=off"));
        started = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
        return okStatus();
      },
      [&](const RedirectionChange& c, const Status&) {
        std::lock_guard lock(mu);
        reported.push_back(c.key);
        cv.notify_all();
      });
  const RedirectionChange on{"mesh/a", "mesh", "a", "u", true};
  const RedirectionChange other{"mesh/b", "mesh", "b", "v", true};
  annotator.want({on});
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return started; }));
  }
  annotator.want({on, other});  // the next reconcile, before the answer
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return reported.size() == 2; }));
  EXPECT_EQ(patched, (std::vector<std::string>{"mesh/a=on", "mesh/b=on"}));
  // Once it is answered, the same change can be wanted again (the view may have lost it).
  lock.unlock();
  annotator.want({on});
  lock.lock();
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return reported.size() == 3; }));
  EXPECT_EQ(patched.back(), "mesh/a=on");
}

}  // namespace
}  // namespace warren::agent
