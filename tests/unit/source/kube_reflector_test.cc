// The list-and-watch state machine of one resource, as a pure function: the
// outcome of the last request and the state decide the next request and its delay.

#include <gtest/gtest.h>

#include "source/kube/reflector.h"
#include "source/kube/resources.h"

namespace warren::source::kube {
namespace {

using namespace std::chrono_literals;
using Kind = Outcome::Kind;
using Next = Action::Next;

const BackoffPolicy kPolicy{800ms, 30000ms};

Outcome listed(std::string rv) { return {Kind::Listed, std::move(rv), false, 0, ""}; }

TEST(Reflector, StartsWithAList) { EXPECT_EQ(initialAction().next, Next::List); }

TEST(Reflector, AListIsFollowedByAWatchFromItsResourceVersion) {
  Step s = decide({}, listed("120"), Next::List, kPolicy, 0.5);
  EXPECT_EQ(s.action.next, Next::Watch);
  EXPECT_EQ(s.action.resourceVersion, "120");
  EXPECT_EQ(s.action.delay, 0ms);
  EXPECT_EQ(s.state.resourceVersion, "120");
}

TEST(Reflector, AResourceTheServerDoesNotServeIsAskedForAgainLaterWithoutBackoff) {
  // A CRD not installed (404 for an optional resource): not a failure, and no
  // growing backoff; a list again after the fixed retry period.
  const BackoffPolicy policy{800ms, 30000ms, 60000ms};
  Step s = decide({"", 4}, {Kind::NotServed, "", false, 404, "the server could not find the requested resource"},
                  Next::List, policy, 0.5);
  EXPECT_EQ(s.action.next, Next::List);
  EXPECT_EQ(s.action.delay, 60000ms);
  EXPECT_EQ(s.state.failures, 0);
  EXPECT_FALSE(s.action.warn);
  EXPECT_NE(s.action.why.find("not served"), std::string::npos) << s.action.why;
  EXPECT_TRUE(s.action.noneServed) << "its view is now empty";
}

// ---- a resource served at an older version only (Istio < 1.22: security.istio.io/v1beta1) ----

const std::vector<std::string> kIstioVersions = {"v1", "v1beta1"};
const Outcome kNotFound{Kind::NotServed, "", false, 404, "the server could not find the requested resource"};

TEST(ReflectorVersions, AListAnswering404AtV1TriesV1beta1AtOnceWithoutEmptyingTheView) {
  const BackoffPolicy policy{800ms, 30000ms, 60000ms};
  Step s = decide({}, kNotFound, Next::List, policy, 0.5, kIstioVersions);
  EXPECT_EQ(s.action.next, Next::List);
  EXPECT_EQ(s.action.version, 1u);
  EXPECT_EQ(s.action.delay, 0ms);
  EXPECT_FALSE(s.action.noneServed) << "an older version is still to be asked: the view must not empty meanwhile";
  EXPECT_FALSE(s.action.warn);
  EXPECT_EQ(s.action.why, "v1 not served; trying v1beta1");

  // Served there: watched there, and every later list and watch stays there.
  s = decide(s.state, listed("120"), Next::List, policy, 0.5, kIstioVersions);
  EXPECT_EQ(s.action.next, Next::Watch);
  EXPECT_EQ(s.action.version, 1u);
  for (const Outcome& o :
       {Outcome{Kind::Gone, "", false, 410, "too old resource version"},
        Outcome{Kind::HttpError, "", false, 503, "unavailable"}, Outcome{Kind::TransportError, "", false, 0, "refused"},
        Outcome{Kind::WatchEnded, "130", true, 200, ""}}) {
    const Step next = decide(s.state, o, Next::Watch, policy, 0.5, kIstioVersions);
    EXPECT_EQ(next.action.version, 1u) << next.action.why;
  }
}

TEST(ReflectorVersions, NoVersionServedEmptiesTheViewAndTheRetryStartsAtV1Again) {
  const BackoffPolicy policy{800ms, 30000ms, 60000ms};
  Step s = decide({"", 0, 1}, kNotFound, Next::List, policy, 0.5, kIstioVersions);
  EXPECT_TRUE(s.action.noneServed);
  EXPECT_EQ(s.action.delay, 60000ms);
  EXPECT_EQ(s.action.version, 0u) << "the periodic re-ask probes v1 first (a cluster upgraded since)";
  EXPECT_NE(s.action.why.find("not served by this API server as v1, v1beta1"), std::string::npos) << s.action.why;
}

TEST(ReflectorVersions, AfterTheRecheckPeriodOnV1beta1TheNextNormalWatchEndListsAtV1) {
  const BackoffPolicy policy{800ms, 30000ms, 60000ms, 600000ms};
  Outcome ended{Kind::WatchEnded, "131", true, 200, ""};
  ended.lasted = 300000ms;
  // Half the period: the watch resumes at v1beta1.
  Step s = decide({"130", 0, 1}, ended, Next::Watch, policy, 0.5, kIstioVersions);
  EXPECT_EQ(s.action.next, Next::Watch);
  EXPECT_EQ(s.action.version, 1u);
  // A failed watch does not count toward the period, nor reset it.
  Outcome failed{Kind::HttpError, "", false, 503, "unavailable"};
  failed.lasted = 900000ms;
  s = decide(s.state, failed, Next::Watch, policy, 0.5, kIstioVersions);
  EXPECT_EQ(s.action.version, 1u);
  EXPECT_EQ(s.state.onOlderVersionFor, 300000ms);
  // The period is reached (a stream that broke after events counts too): list at
  // v1 at once; a 404 there goes back to v1beta1 as at the start.
  Outcome dropped{Kind::WatchDropped, "140", true, 0, "reset"};
  dropped.lasted = 300000ms;
  s = decide(s.state, dropped, Next::Watch, policy, 0.5, kIstioVersions);
  EXPECT_EQ(s.action.next, Next::List);
  EXPECT_EQ(s.action.version, 0u);
  EXPECT_EQ(s.action.delay, 0ms);
  EXPECT_FALSE(s.action.noneServed) << "the view is kept while v1 is probed";
  EXPECT_EQ(s.action.why, "watched as v1beta1 for 600 s; asking for v1 again");
  s = decide(s.state, kNotFound, Next::List, policy, 0.5, kIstioVersions);
  EXPECT_EQ(s.action.version, 1u);
  EXPECT_EQ(s.state.onOlderVersionFor, 0ms) << "a new period starts";
  // At the preferred version, time watched never triggers a probe.
  s = decide({"130", 0, 0}, ended, Next::Watch, policy, 0.5, kIstioVersions);
  s = decide(s.state, ended, Next::Watch, policy, 0.5, kIstioVersions);
  s = decide(s.state, ended, Next::Watch, policy, 0.5, kIstioVersions);
  EXPECT_EQ(s.action.next, Next::Watch);
  EXPECT_EQ(s.action.version, 0u);
}

TEST(ReflectorVersions, AWatchAnswering404ListsFromV1Again) {
  // The version watched is no longer served (the CRD dropped v1beta1 after an upgrade).
  Step s = decide({"130", 0, 1}, {Kind::Gone, "", false, 404, "the server could not find the requested resource"},
                  Next::Watch, kPolicy, 0.5, kIstioVersions);
  EXPECT_EQ(s.action.next, Next::List);
  EXPECT_EQ(s.action.version, 0u);
  EXPECT_EQ(s.action.delay, 0ms);
  EXPECT_FALSE(s.action.noneServed);
}

TEST(Reflector, AWatchThatEndsResumesAtOnceFromTheLastEvent) {
  Step s = decide({"120", 0}, {Kind::WatchEnded, "131", true, 200, ""}, Next::Watch, kPolicy, 0.5);
  EXPECT_EQ(s.action.next, Next::Watch);
  EXPECT_EQ(s.action.resourceVersion, "131");
  EXPECT_EQ(s.action.delay, 0ms);
  // An uneventful timeout resumes where it was.
  s = decide({"131", 0}, {Kind::WatchEnded, "", false, 200, "", 300000ms}, Next::Watch, kPolicy, 0.5);
  EXPECT_EQ(s.action.resourceVersion, "131");
  EXPECT_EQ(s.action.delay, 0ms);
}

TEST(Reflector, ADroppedStreamResumesFromTheLastEventItDelivered) {
  Step s = decide({"120", 3}, {Kind::WatchDropped, "125", true, 0, "connection reset"}, Next::Watch, kPolicy, 0.5);
  EXPECT_EQ(s.action.next, Next::Watch);
  EXPECT_EQ(s.action.resourceVersion, "125");
  EXPECT_EQ(s.action.delay, 0ms);
  EXPECT_EQ(s.state.failures, 0);
  EXPECT_NE(s.action.why.find("resuming from resourceVersion 125"), std::string::npos);
}

TEST(Reflector, AWatchClosedAtOnceWithoutAnEventBacksOff) {
  Step s = decide({"131", 0}, {Kind::WatchEnded, "", false, 200, "", 3ms}, Next::Watch, kPolicy, 1.0);
  EXPECT_EQ(s.action.next, Next::Watch);
  EXPECT_EQ(s.action.resourceVersion, "131");
  EXPECT_EQ(s.action.delay, 800ms);
  EXPECT_NE(s.action.why.find("very short watch"), std::string::npos);
  // A short one that delivered events is an ordinary end.
  s = decide({"131", 0}, {Kind::WatchEnded, "140", true, 200, "", 3ms}, Next::Watch, kPolicy, 1.0);
  EXPECT_EQ(s.action.delay, 0ms);
}

TEST(Reflector, AStreamThatBreaksBeforeAnyEventBacksOff) {
  Step s = decide({"120", 0}, {Kind::WatchDropped, "", false, 0, "EOF"}, Next::Watch, kPolicy, 1.0);
  EXPECT_EQ(s.action.next, Next::Watch);
  EXPECT_EQ(s.action.resourceVersion, "120");
  EXPECT_EQ(s.action.delay, 800ms);
  EXPECT_EQ(s.state.failures, 1);
  EXPECT_TRUE(s.action.warn);
}

TEST(Reflector, GoneOnAWatchListsAgainAtOnce) {
  for (const Outcome& o : {Outcome{Kind::Gone, "", false, 410, "too old resource version"},
                           Outcome{Kind::Gone, "130", true, 410, "too old resource version"}}) {
    Step s = decide({"120", 2}, o, Next::Watch, kPolicy, 0.5);
    EXPECT_EQ(s.action.next, Next::List);
    EXPECT_EQ(s.action.delay, 0ms);
    EXPECT_EQ(s.state.resourceVersion, "");
    EXPECT_EQ(s.state.failures, 0);
    EXPECT_NE(s.action.why.find("410"), std::string::npos);
  }
}

TEST(Reflector, GoneOnAListListsAgainWithBackoff) {
  Step s = decide({"", 0}, {Kind::Gone, "", false, 410, "continue token expired"}, Next::List, kPolicy, 1.0);
  EXPECT_EQ(s.action.next, Next::List);
  EXPECT_EQ(s.action.delay, 800ms);
}

TEST(Reflector, ErrorsBackOffAndKeepTheViewTheyHad) {
  struct Case {
    const char* description;
    ReflectorState state;
    Outcome outcome;
    Next last;
    Next next;
    const char* whyHas;
  };
  const Case cases[] = {
      {"401 before any list",
       {"", 0},
       {Kind::HttpError, "", false, 401, "Unauthorized"},
       Next::List,
       Next::List,
       "HTTP 401: Unauthorized (the token file is read again"},
      {"403 on a list",
       {"", 0},
       {Kind::HttpError, "", false, 403, "pods is forbidden: User x cannot list"},
       Next::List,
       Next::List,
       "list answered HTTP 403: pods is forbidden"},
      {"503 on a watch after a list",
       {"120", 0},
       {Kind::HttpError, "", false, 503, "unavailable"},
       Next::Watch,
       Next::Watch,
       "watch answered HTTP 503"},
      {"connection refused on a watch",
       {"120", 0},
       {Kind::TransportError, "", false, 0, "connection refused"},
       Next::Watch,
       Next::Watch,
       "watch failed: connection refused"},
      {"an ERROR event that is not 410",
       {"120", 0},
       {Kind::HttpError, "121", true, 500, "internal error"},
       Next::Watch,
       Next::Watch,
       "HTTP 500"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    Step s = decide(c.state, c.outcome, c.last, kPolicy, 1.0);
    EXPECT_EQ(s.action.next, c.next);
    EXPECT_EQ(s.state.failures, 1);
    EXPECT_EQ(s.action.delay, 800ms);
    EXPECT_TRUE(s.action.warn);
    EXPECT_NE(s.action.why.find(c.whyHas), std::string::npos) << s.action.why;
    if (c.next == Next::Watch) {
      EXPECT_EQ(s.action.resourceVersion, s.state.resourceVersion);
    }
  }
}

TEST(Reflector, AWatchErrorStillResumesAfterTheEventsItDelivered) {
  Step s = decide({"120", 0}, {Kind::HttpError, "121", true, 500, "internal error"}, Next::Watch, kPolicy, 0.5);
  EXPECT_EQ(s.state.resourceVersion, "121");
  EXPECT_EQ(s.action.resourceVersion, "121");
}

TEST(Reflector, BackoffDoublesToItsCapAndASuccessResetsIt) {
  ReflectorState st{"120", 0};
  std::vector<long> delays;
  for (int i = 0; i < 8; ++i) {
    Step s = decide(st, {Kind::TransportError, "", false, 0, "refused"}, Next::Watch, kPolicy, 1.0);
    delays.push_back(static_cast<long>(s.action.delay.count()));
    st = s.state;
  }
  EXPECT_EQ(delays, (std::vector<long>{800, 1600, 3200, 6400, 12800, 25600, 30000, 30000}));
  Step ok = decide(st, {Kind::WatchEnded, "140", true, 200, ""}, Next::Watch, kPolicy, 1.0);
  EXPECT_EQ(ok.state.failures, 0);
  Step again = decide(ok.state, {Kind::TransportError, "", false, 0, "refused"}, Next::Watch, kPolicy, 1.0);
  EXPECT_EQ(again.action.delay, 800ms);
}

TEST(Reflector, JitterSpreadsTheDelayOverItsUpperHalf) {
  EXPECT_EQ(backoffDelay(1, kPolicy, 0.0), 400ms);
  EXPECT_EQ(backoffDelay(1, kPolicy, 0.5), 600ms);
  EXPECT_EQ(backoffDelay(1, kPolicy, 1.0), 800ms);
  EXPECT_EQ(backoffDelay(40, kPolicy, 0.0), 15000ms);
}

TEST(RequestTargets, AnOlderVersionNamesItsOwnPathAndApiVersion) {
  const ResourceType& policies = standaloneResources().at(4);
  ASSERT_EQ(policies.name, "authorizationpolicies");
  EXPECT_EQ(versionsOf(policies), (std::vector<std::string>{"v1", "v1beta1"}));
  const ResourceType old = atVersion(policies, "v1beta1");
  EXPECT_EQ(old.apiVersion, "security.istio.io/v1beta1");
  EXPECT_EQ(old.path, "/apis/security.istio.io/v1beta1/authorizationpolicies");
  EXPECT_EQ(atVersion(policies, "v1").path, policies.path);
  const ResourceType pods = agentResources().at(1);
  EXPECT_EQ(versionsOf(pods), std::vector<std::string>{"v1"});
  EXPECT_EQ(atVersion(pods, "v1").path, "/api/v1/pods");
}

TEST(RequestTargets, ListAndWatchAsClientGoSendsThem) {
  const ResourceType pods{"pods", "Pod", "v1", "/api/v1/pods", true};
  const ResourceType namespaces{"namespaces", "Namespace", "v1", "/api/v1/namespaces", false};
  EXPECT_EQ(listTarget(pods, "node-1", 500, ""), "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1&limit=500");
  EXPECT_EQ(listTarget(pods, "node-1", 500, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ=="),
            "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1&limit=500"
            "&continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ%3D%3D");
  EXPECT_EQ(watchTarget(pods, "node-1", "4711", 300),
            "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1&watch=1&allowWatchBookmarks=true"
            "&resourceVersion=4711&timeoutSeconds=300");
  EXPECT_EQ(listTarget(namespaces, "node-1", 500, ""), "/api/v1/namespaces?limit=500");
}

}  // namespace
}  // namespace warren::source::kube
