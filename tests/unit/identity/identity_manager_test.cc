// IdentityManager against a CA we control: issues once per identity, renews at about
// half the lifetime, backs off when the CA fails, refuses expired certificates (fail
// closed), stops renewing on release, and reloads the trust bundle safely.

#include "identity/identity_manager.h"

#include <algorithm>
#include <climits>
#include <latch>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "identity/local_ca.h"
#include "tests/support/test_certs.h"

namespace warren::identity {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

const SpiffeId kApp{"cluster.local", "default", "app"};
const SpiffeId kDb{"cluster.local", "default", "db"};

// What the fake CA saw; shared with the test after the manager takes the CA.
struct FakeCaState {
  std::mutex mu;
  std::vector<Steady::time_point> signTimes;
  std::map<std::string, int> signsPerUri;
  std::atomic<bool> failing{false};
  std::atomic<int> signs{0};

  int signsFor(const SpiffeId& id) {
    std::lock_guard lock(mu);
    return signsPerUri[id.uri()];
  }
  std::vector<Steady::time_point> times() {
    std::lock_guard lock(mu);
    return signTimes;
  }
};

// A LocalCa that can be told to fail and counts what it is asked.
class FakeCa : public CaClient {
 public:
  FakeCa(std::unique_ptr<LocalCa> ca, std::shared_ptr<FakeCaState> state)
      : ca_(std::move(ca)), state_(std::move(state)) {}
  Result<std::vector<std::string>> sign(const CertificateRequest& req) override {
    {
      std::lock_guard lock(state_->mu);
      state_->signTimes.push_back(Steady::now());
      state_->signsPerUri[req.id.uri()]++;
    }
    state_->signs++;
    if (state_->failing) return makeError("fake CA: unavailable");
    return ca_->sign(req);
  }
  Result<std::vector<std::string>> trustRoots() override { return ca_->trustRoots(); }

 private:
  std::unique_ptr<LocalCa> ca_;
  std::shared_ptr<FakeCaState> state_;
};

// Real time plus an offset the test can move forward.
struct FakeClock {
  std::atomic<int64_t> offsetSeconds{0};
  std::chrono::system_clock::time_point now() const {
    return std::chrono::system_clock::now() + std::chrono::seconds(offsetSeconds.load());
  }
};

// Polls until pred() or the deadline; true if pred() held.
template <typename Pred>
bool waitFor(Pred pred, std::chrono::milliseconds deadline) {
  auto end = Steady::now() + deadline;
  while (Steady::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// X.509 times have whole seconds: starting just after a second boundary makes a 2 s
// certificate really last 2 s from issue, so "half the lifetime" is a tight window.
void alignToSecond() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto intoSecond = std::chrono::duration_cast<std::chrono::milliseconds>(now) % 1000;
  std::this_thread::sleep_for(1000ms - intoSecond + 20ms);
}

class IdentityManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(tmp_.path().empty()); }

  std::unique_ptr<IdentityManager> make(IdentityOptions options = {}) {
    auto ca = LocalCa::open(tmp_.file("ca"), "cluster.local");
    EXPECT_TRUE(ca.ok()) << ca.error().message;
    if (!ca.ok()) return nullptr;
    auto m = IdentityManager::create(std::make_unique<FakeCa>(std::move(*ca), state_), std::move(options));
    EXPECT_TRUE(m.ok()) << m.error().message;
    return m.ok() ? std::move(*m) : nullptr;
  }

  testcerts::TempDir tmp_;
  std::shared_ptr<FakeCaState> state_ = std::make_shared<FakeCaState>();
};

TEST_F(IdentityManagerTest, EnsureIssuesOncePerIdentity) {
  auto m = make();
  ASSERT_TRUE(m);
  std::vector<Result<WorkloadCertPtr>> results(4, makeError("not run"));
  std::latch go(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      results[i] = m->ensure(kApp);
    });
  for (auto& t : threads) t.join();
  for (auto& r : results) ASSERT_TRUE(r.ok()) << r.error().message;
  auto again = m->ensure(kApp);
  ASSERT_TRUE(again.ok());

  EXPECT_EQ(state_->signs.load(), 1) << "concurrent ensure() must share one issue";
  EXPECT_EQ(m->counters().issued.load(), 1u);
  for (auto& r : results) EXPECT_EQ(r->get(), again->get());

  const WorkloadCert& cert = **again;
  EXPECT_EQ(cert.id, kApp);
  EXPECT_GE(cert.generation, 1u);
  EXPECT_TRUE(cert.chain.empty());
  EXPECT_FALSE(cert.expiredAt(std::chrono::system_clock::now()));
  EXPECT_NEAR(std::chrono::duration<double>(cert.notAfter - std::chrono::system_clock::now()).count(), 24 * 3600, 10);

  auto cur = m->current(kApp);
  ASSERT_TRUE(cur.ok());
  EXPECT_EQ(cur->get(), again->get());
  EXPECT_EQ(m->certificates().size(), 1u);
  auto due = m->renewalDue(kApp);
  ASSERT_TRUE(due.has_value());
  double hours = std::chrono::duration<double>(*due - std::chrono::system_clock::now()).count() / 3600;
  EXPECT_GT(hours, 12 * 0.9 - 0.01);
  EXPECT_LT(hours, 12 * 1.1 + 0.01);

  auto none = m->current(kDb);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no certificate for " + kDb.uri()), std::string::npos);
  EXPECT_FALSE(m->renewalDue(kDb).has_value());

  auto foreign = m->ensure(SpiffeId{"other.example", "default", "app"});
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.error().message.find("not in this tunnel's trust domain"), std::string::npos);
}

TEST_F(IdentityManagerTest, RenewsAroundHalfTheLifetime) {
  IdentityOptions options;
  options.certTtl = 2s;
  auto m = make(options);
  ASSERT_TRUE(m);
  alignToSecond();
  auto first = m->ensure(kApp);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto start = Steady::now();
  uint64_t gen = (*first)->generation;

  ASSERT_TRUE(waitFor(
      [&] {
        auto c = m->current(kApp);
        return c.ok() && (*c)->generation > gen;
      },
      3000ms))
      << "no renewal within 3 s";
  double elapsed = std::chrono::duration<double>(Steady::now() - start).count();
  EXPECT_GE(elapsed, 0.8);
  EXPECT_LE(elapsed, 1.6);
  EXPECT_EQ(m->counters().renewed.load(), 1u);
  EXPECT_EQ(m->counters().issued.load(), 1u);
  auto second = m->current(kApp);
  ASSERT_TRUE(second.ok());
  EXPECT_NE((*second)->serialHex, (*first)->serialHex);
  EXPECT_NE((*second)->key.get(), (*first)->key.get()) << "a renewal uses a fresh key";
}

TEST_F(IdentityManagerTest, FailingCaIsRetriedWithBackoff) {
  IdentityOptions options;
  options.certTtl = 2s;
  options.initialBackoff = 100ms;
  options.maxBackoff = 400ms;
  auto m = make(options);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->ensure(kApp).ok());
  state_->failing = true;

  // Renewal at ~1 s, then retries after ~100, ~200, ~400, ~400 ms.
  ASSERT_TRUE(waitFor([&] { return state_->signs.load() >= 6; }, 6000ms));
  auto times = state_->times();
  ASSERT_GE(times.size(), 6u);
  std::vector<double> gaps;
  for (size_t i = 2; i < 6; ++i)
    gaps.push_back(std::chrono::duration<double, std::milli>(times[i] - times[i - 1]).count());
  EXPECT_GE(gaps[0], 70);
  EXPECT_LE(gaps[0], 250);
  EXPECT_GT(gaps[1], gaps[0]) << "backoff grows";
  EXPECT_GE(gaps[2], 300);
  EXPECT_LE(gaps[2], 400 * 1.2 + 100) << "capped at maxBackoff (+20% jitter)";
  EXPECT_LE(gaps[3], 400 * 1.2 + 100) << "stays capped";
  EXPECT_GE(m->counters().failures.load(), 4u);
  EXPECT_EQ(m->counters().renewed.load(), 0u);

  // The CA recovers: the next retry succeeds.
  state_->failing = false;
  ASSERT_TRUE(waitFor([&] { return m->counters().renewed.load() >= 1; }, 3000ms));
  auto cur = m->current(kApp);
  EXPECT_TRUE(cur.ok());
}

TEST_F(IdentityManagerTest, ExpiredCertificateIsRefused) {
  auto clock = std::make_shared<FakeClock>();
  IdentityOptions options;
  options.certTtl = 3600s;
  options.now = [clock] { return clock->now(); };
  auto m = make(options);
  ASSERT_TRUE(m);
  auto cert = m->ensure(kApp);
  ASSERT_TRUE(cert.ok());
  ASSERT_TRUE(m->current(kApp).ok());
  EXPECT_EQ(m->counters().expiredRefusals.load(), 0u);

  state_->failing = true;
  clock->offsetSeconds = 2 * 3600;
  auto refused = m->current(kApp);
  ASSERT_FALSE(refused.ok());
  const std::string& msg = refused.error().message;
  EXPECT_NE(msg.find("certificate for " + kApp.uri() + " expired at "), std::string::npos) << msg;
  EXPECT_NE(msg.find("; refusing (fail closed)"), std::string::npos) << msg;
  EXPECT_EQ(m->counters().expiredRefusals.load(), 1u);
  EXPECT_FALSE(m->current(kApp).ok());
  EXPECT_EQ(m->counters().expiredRefusals.load(), 2u);

  // ensure() will not hand it out either; with the CA down it reports the CA's error.
  auto again = m->ensure(kApp);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("fake CA: unavailable"), std::string::npos) << again.error().message;
  // Still listed for the admin endpoint, so an operator can see what expired.
  EXPECT_EQ(m->certificates().size(), 1u);
}

// The audit log's `cert` records come from these events: one per issue, renewal,
// failure, and one when a held certificate expires because no renewal succeeded.
TEST_F(IdentityManagerTest, EveryCertificateEventReachesTheObserverExpiryOnce) {
  IdentityOptions options;
  options.certTtl = 2s;  // real time: the CA's validity and the manager's clock agree
  options.initialBackoff = 50ms;
  options.maxBackoff = 100ms;
  std::mutex mu;  // before m: its renewal thread calls the observer until m is gone
  std::vector<CertEvent> events;
  auto m = make(options);
  ASSERT_TRUE(m);
  m->setEventObserver([&](const CertEvent& e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  });
  auto seen = [&] {
    std::lock_guard lock(mu);
    return events;
  };
  auto count = [&](CertEvent::Kind k) {
    auto all = seen();
    return std::count_if(all.begin(), all.end(), [k](const CertEvent& e) { return e.kind == k; });
  };

  alignToSecond();
  auto first = m->ensure(kApp);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(seen().size(), 1u);
  EXPECT_EQ(seen()[0].kind, CertEvent::Kind::Issued);
  EXPECT_EQ(seen()[0].id, kApp);
  EXPECT_EQ(seen()[0].cert.get(), first->get());
  EXPECT_EQ(seen()[0].cert->issuer, "O=cluster.local") << "the local CA's subject";
  EXPECT_EQ(certEventName(seen()[0].kind), "issued");

  state_->failing = true;
  ASSERT_FALSE(m->ensure(kDb).ok());
  ASSERT_EQ(seen().size(), 2u);
  EXPECT_EQ(seen()[1].kind, CertEvent::Kind::Failed);
  EXPECT_EQ(seen()[1].id, kDb);
  EXPECT_EQ(seen()[1].cert, nullptr);
  EXPECT_NE(seen()[1].reason.find("fake CA: unavailable"), std::string::npos) << seen()[1].reason;

  // The CA stays down past notAfter: every renewal fails, and the expiry of the
  // certificate still held is reported once.
  ASSERT_TRUE(waitFor([&] { return count(CertEvent::Kind::Expired) == 1; }, 4000ms));
  EXPECT_GE(count(CertEvent::Kind::Failed), 3);
  for (const auto& e : seen()) {
    if (e.kind != CertEvent::Kind::Expired) continue;
    EXPECT_EQ(e.cert.get(), first->get());
    EXPECT_NE(e.reason.find("expired while in use"), std::string::npos) << e.reason;
  }

  // The CA is back: the renewal rotates it, naming the certificate it replaced.
  state_->failing = false;
  ASSERT_TRUE(waitFor([&] { return count(CertEvent::Kind::Rotated) >= 1; }, 3000ms));
  for (const auto& e : seen()) {
    if (e.kind != CertEvent::Kind::Rotated) continue;
    EXPECT_EQ(e.previousSerial, (*first)->serialHex);
    EXPECT_NE(e.cert->serialHex, (*first)->serialHex);
    break;
  }
  EXPECT_EQ(count(CertEvent::Kind::Expired), 1);
}

TEST_F(IdentityManagerTest, ReleaseStopsRenewal) {
  IdentityOptions options;
  options.certTtl = 2s;
  auto m = make(options);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->ensure(kApp).ok());
  ASSERT_TRUE(m->ensure(kDb).ok());
  // Reference counted: two ensures need two releases.
  ASSERT_TRUE(m->ensure(kApp).ok());
  m->release(kApp);
  EXPECT_TRUE(m->current(kApp).ok());
  m->release(kApp);

  auto gone = m->current(kApp);
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.error().message.find("no certificate"), std::string::npos);
  EXPECT_FALSE(m->renewalDue(kApp).has_value());
  EXPECT_EQ(m->certificates().size(), 1u);

  // db renews twice (~2 s); app, due at the same time, must not have been renewed.
  ASSERT_TRUE(waitFor([&] { return state_->signsFor(kDb) >= 3; }, 5000ms));
  EXPECT_EQ(state_->signsFor(kApp), 1);
  m->release(kApp);  // an extra release is harmless
  m->release(kDb);
  EXPECT_TRUE(m->certificates().empty());
}

TEST_F(IdentityManagerTest, ReloadTrustBundlePicksUpANewRootAndKeepsTheOldOnFailure) {
  auto m = make();
  ASSERT_TRUE(m);
  auto first = m->trustBundle();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->trustDomain, "cluster.local");
  ASSERT_EQ(first->roots.size(), 1u);

  // Another root replaces root-cert.pem (as an operator rotating roots would).
  ASSERT_TRUE(LocalCa::open(tmp_.file("other"), "cluster.local").ok());
  auto otherRoot = testcerts::loadCert(tmp_.file("other") + "/root-cert.pem");
  ASSERT_TRUE(otherRoot.ok());
  std::string otherPem = certToPem(otherRoot->get());
  std::string oldPem = certToPem(first->roots[0].get());
  ASSERT_TRUE(testcerts::writeFile(tmp_.file("ca") + "/root-cert.pem", otherPem + oldPem).ok());

  auto st = m->reloadTrustBundle();
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto second = m->trustBundle();
  EXPECT_GT(second->generation, first->generation);
  ASSERT_EQ(second->roots.size(), 2u);
  EXPECT_EQ(X509_cmp(second->roots[0].get(), otherRoot->get()), 0);
  EXPECT_EQ(first->roots.size(), 1u) << "the old bundle is immutable";

  ASSERT_TRUE(testcerts::writeFile(tmp_.file("ca") + "/root-cert.pem", "truncated garbage").ok());
  auto failed = m->reloadTrustBundle();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("root-cert.pem"), std::string::npos) << failed.error().message;
  auto third = m->trustBundle();
  EXPECT_EQ(third.get(), second.get()) << "a failed reload keeps the previous bundle";
}

TEST_F(IdentityManagerTest, CreateNeedsTrustRoots) {
  ASSERT_TRUE(LocalCa::open(tmp_.file("ca"), "cluster.local").ok());
  ASSERT_TRUE(testcerts::writeFile(tmp_.file("ca") + "/root-cert.pem", "").ok());
  auto ca = LocalCa::open(tmp_.file("ca"), "cluster.local");
  ASSERT_FALSE(ca.ok()) << "LocalCa checks its own files";

  // A CA whose roots vanish after open.
  ASSERT_TRUE(LocalCa::open(tmp_.file("ca2"), "cluster.local").ok());
  auto ca2 = LocalCa::open(tmp_.file("ca2"), "cluster.local");
  ASSERT_TRUE(ca2.ok());
  ASSERT_EQ(::unlink((tmp_.file("ca2") + "/root-cert.pem").c_str()), 0);
  auto m = IdentityManager::create(std::make_unique<FakeCa>(std::move(*ca2), state_), {});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("loading trust bundle"), std::string::npos) << m.error().message;
}

TEST(AssembleCert, ChecksKeyAndIdentity) {
  testcerts::TempDir tmp;
  auto ca = LocalCa::open(tmp.file("ca"), "cluster.local");
  ASSERT_TRUE(ca.ok());
  auto forApp = makeKeyAndCsr(kApp);
  auto forDb = makeKeyAndCsr(kDb);
  ASSERT_TRUE(forApp.ok() && forDb.ok());
  auto appChain = (*ca)->sign({kApp, forApp->csrPem, 3600s});
  ASSERT_TRUE(appChain.ok());

  // The chain is app's, the key db's.
  auto wrongKey = assembleCert(kApp, std::move(forDb->key), *appChain, 1);
  ASSERT_FALSE(wrongKey.ok());
  EXPECT_NE(wrongKey.error().message.find("does not match the requested key"), std::string::npos)
      << wrongKey.error().message;

  // Right key, but we asked for db and got app.
  auto wrongId = assembleCert(kDb, std::move(forApp->key), *appChain, 1);
  ASSERT_FALSE(wrongId.ok());
  EXPECT_NE(wrongId.error().message.find("CA issued a certificate for " + kApp.uri()), std::string::npos)
      << wrongId.error().message;

  auto empty = assembleCert(kApp, ossl::EvpPkeyPtr(EVP_EC_gen("P-256")), {}, 1);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("empty certificate chain"), std::string::npos);
}

TEST(MakeKeyAndCsr, CarriesTheUriSan) {
  auto kc = makeKeyAndCsr(kApp);
  ASSERT_TRUE(kc.ok());
  EXPECT_EQ(EVP_PKEY_get_id(kc->key.get()), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(kc->key.get()), 256);
  EXPECT_NE(kc->csrPem.find("-----BEGIN CERTIFICATE REQUEST-----"), std::string::npos);
}

}  // namespace
}  // namespace warren::identity
