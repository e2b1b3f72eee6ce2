// Fetching JWKS documents over real HTTPS: an OpenSSL server in this process on
// 127.0.0.1 (an ephemeral port), with its own CA made at test time, serving a
// document the test swaps, or misbehaving on purpose.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "common/unique_fd.h"
#include "identity/local_ca.h"
#include "jwt/https_get.h"
#include "jwt/jwks_cache.h"
#include "jwt/openid_discovery.h"
#include "tests/support/jwt_mint.h"
#include "tests/support/test_certs.h"

namespace warren::jwt {
namespace {

using namespace std::chrono_literals;
namespace mint = jwt::mint;

enum class Mode { Ok, Chunked, CloseDelimited, Error500, Stall, Huge };

class HttpsServer {
 public:
  HttpsServer(const std::string& chain, const std::string& key) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    EXPECT_EQ(SSL_CTX_use_certificate_chain_file(ctx_, chain.c_str()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM), 1);
    listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(listener_.get(), 16), 0);
    socklen_t len = sizeof(a);
    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    stopRead_ = UniqueFd(p[0]);
    stopWrite_ = UniqueFd(p[1]);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpsServer() {
    (void)!::write(stopWrite_.get(), "x", 1);
    thread_.join();
    SSL_CTX_free(ctx_);
  }
  uint16_t port() const { return port_; }
  std::string url(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(port_) + "/jwks.json";
  }
  void setDocument(std::string doc) {
    std::lock_guard lock(mu_);
    doc_ = std::move(doc);
  }
  // A document for one path only (the others get setDocument's).
  void setDocumentAt(const std::string& path, std::string doc) {
    std::lock_guard lock(mu_);
    byPath_[path] = std::move(doc);
  }
  std::string base(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(port_);
  }
  void setMode(Mode m) { mode_ = m; }
  int requests() const { return requests_; }

 private:
  void serve() {
    for (;;) {
      pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stopRead_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents) return;
      UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) continue;
      timeval tv{5, 0};
      ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c.get());
      if (SSL_accept(ssl) == 1) answer(ssl);
      ERR_clear_error();
      SSL_free(ssl);
    }
  }
  void answer(SSL* ssl) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0) return;
      req.append(buf, static_cast<size_t>(n));
    }
    requests_++;
    std::string doc;
    {
      const size_t sp = req.find(' '), sp2 = sp == std::string::npos ? sp : req.find(' ', sp + 1);
      const std::string path = sp2 == std::string::npos ? "" : req.substr(sp + 1, sp2 - sp - 1);
      std::lock_guard lock(mu_);
      auto it = byPath_.find(path);
      doc = it != byPath_.end() ? it->second : doc_;
    }
    std::string resp;
    switch (mode_.load()) {
      case Mode::Ok:
        resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(doc.size()) +
               "\r\n\r\n" + doc;
        break;
      case Mode::Chunked: {
        resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (size_t i = 0; i < doc.size(); i += 100) {
          const std::string part = doc.substr(i, 100);
          char hex[16];
          std::snprintf(hex, sizeof(hex), "%zx", part.size());
          resp += std::string(hex) + "\r\n" + part + "\r\n";
        }
        resp += "0\r\n\r\n";
        break;
      }
      case Mode::CloseDelimited: resp = "HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\n" + doc; break;
      case Mode::Error500: resp = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops"; break;
      case Mode::Huge: resp = "HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n" + std::string(3000000, ' '); break;
      case Mode::Stall: {
        pollfd p{stopRead_.get(), POLLIN, 0};
        ::poll(&p, 1, 10000);  // until the test ends, or 10 s
        return;
      }
    }
    SSL_write(ssl, resp.data(), static_cast<int>(resp.size()));
    SSL_shutdown(ssl);
  }

  SSL_CTX* ctx_ = nullptr;
  UniqueFd listener_, stopRead_, stopWrite_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::string doc_;
  std::map<std::string, std::string> byPath_;
  std::atomic<Mode> mode_{Mode::Ok};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// A CA, a server certificate for 127.0.0.1 and localhost, and an unrelated CA.
struct Pki {
  testcerts::TempDir dir;
  testcerts::CertFiles server;
  std::string otherRoot;
  Pki() {
    auto ca = identity::LocalCa::open(dir.file("ca"), "cluster.local");
    EXPECT_TRUE(ca) << ca.error().message;
    auto s = testcerts::issueCert(dir.file("ca"), {"IP:127.0.0.1", "DNS:localhost"}, dir.path(), "idp");
    EXPECT_TRUE(s) << s.error().message;
    server = *s;
    auto other = identity::LocalCa::open(dir.file("other"), "cluster.local");
    EXPECT_TRUE(other);
    otherRoot = dir.file("other") + "/root-cert.pem";
  }
};

struct Fixture : ::testing::Test {
  Pki pki;
  HttpsServer server{pki.server.chain, pki.server.key};
  mint::SigningKey k1{mint::KeyKind::EcP256}, k2{mint::KeyKind::Rsa2048};
  std::string doc(std::vector<nlohmann::json> keys) { return mint::jwks(std::move(keys)).dump(); }
  GetOptions get(std::chrono::milliseconds timeout = 5000ms) { return {pki.server.root, timeout, 1u << 20}; }
  JwksCache::Options cacheOptions() {
    JwksCache::Options o;
    o.caFile = pki.server.root;
    o.minRefetchGap = 0s;
    return o;
  }
};

template <typename F>
bool eventually(F f, std::chrono::milliseconds within = 10000ms) {
  const auto end = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

// ---- URLs --------------------------------------------------------------------------

TEST(ParseUrl, Table) {
  struct Row {
    const char* text;
    bool ok;
    bool tls;
    const char* host;
    int port;
    const char* target;
  } rows[] = {
      {"https://idp.example/keys", true, true, "idp.example", 443, "/keys"},
      {"https://idp.example", true, true, "idp.example", 443, "/"},
      {"http://idp.example:8080/a?b=c#frag", true, false, "idp.example", 8080, "/a?b=c"},
      {"https://[fd00::1]:8443/k", true, true, "fd00::1", 8443, "/k"},
      {"https://[fd00::1]/k", true, true, "fd00::1", 443, "/k"},
      {"https://10.0.0.1?x=1", true, true, "10.0.0.1", 443, "/?x=1"},
      {"ftp://idp.example/keys", false, false, "", 0, ""},
      {"https:///keys", false, false, "", 0, ""},
      {"https://idp.example:0/", false, false, "", 0, ""},
      {"https://idp.example:70000/", false, false, "", 0, ""},
      {"https://idp.example:/", false, false, "", 0, ""},
      {"https://user:pw@idp.example/", false, false, "", 0, ""},
      {"https://[fd00::1/k", false, false, "", 0, ""},
      {"https://[not-ip]/k", false, false, "", 0, ""},
  };
  for (const auto& r : rows) {
    auto u = parseUrl(r.text);
    ASSERT_EQ(u.ok(), r.ok) << r.text;
    if (!r.ok) continue;
    EXPECT_EQ(u->tls, r.tls) << r.text;
    EXPECT_EQ(u->host, r.host) << r.text;
    EXPECT_EQ(u->port, r.port) << r.text;
    EXPECT_EQ(u->target, r.target) << r.text;
  }
}

// ---- one GET ------------------------------------------------------------------------

TEST_F(Fixture, GetsTheDocumentWithContentLengthChunkedOrReadToClose) {
  const std::string d = doc({k1.publicJwk("a"), k2.publicJwk("b")});
  server.setDocument(d);
  for (Mode m : {Mode::Ok, Mode::Chunked, Mode::CloseDelimited}) {
    server.setMode(m);
    auto body = httpGet(*parseUrl(server.url()), get());
    ASSERT_TRUE(body) << body.error().message;
    EXPECT_EQ(*body, d);
  }
}

TEST_F(Fixture, AServerOfAnotherCaIsRefused) {
  server.setDocument("{}");
  auto body = httpGet(*parseUrl(server.url()), {pki.otherRoot, 5000ms, 1u << 20});
  ASSERT_FALSE(body);
  EXPECT_NE(body.error().message.find("certificate verification failed"), std::string::npos) << body.error().message;
  EXPECT_EQ(server.requests(), 0) << "no request is sent to an unverified server";
}

TEST_F(Fixture, TheServerMustBeWhatTheUrlNames) {
  server.setDocument("{}");
  // The certificate names IP 127.0.0.1 and DNS localhost: both verify.
  for (const char* host : {"127.0.0.1", "localhost"}) {
    auto ok = httpGet(*parseUrl(server.url(host)), get());
    EXPECT_TRUE(ok) << host << ": " << ok.error().message;
  }
  // A certificate for DNS localhost only, from the same CA, reached by its IP.
  auto dnsOnly = testcerts::issueCert(pki.dir.file("ca"), {"DNS:localhost"}, pki.dir.path(), "dns-only");
  ASSERT_TRUE(dnsOnly) << dnsOnly.error().message;
  HttpsServer other(dnsOnly->chain, dnsOnly->key);
  auto bad = httpGet(*parseUrl(other.url("127.0.0.1")), get());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("certificate verification failed"), std::string::npos) << bad.error().message;
  EXPECT_EQ(other.requests(), 0);
}

TEST_F(Fixture, Non2xxTooLargeAndStalledAreErrors) {
  server.setMode(Mode::Error500);
  auto e500 = httpGet(*parseUrl(server.url()), get());
  ASSERT_FALSE(e500);
  EXPECT_NE(e500.error().message.find("HTTP 500"), std::string::npos) << e500.error().message;

  server.setMode(Mode::Huge);
  auto huge = httpGet(*parseUrl(server.url()), get());
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message.find("over"), std::string::npos) << huge.error().message;

  server.setMode(Mode::Stall);
  const auto start = std::chrono::steady_clock::now();
  auto stalled = httpGet(*parseUrl(server.url()), get(300ms));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(stalled);
  EXPECT_NE(stalled.error().message.find("timed out"), std::string::npos) << stalled.error().message;
  EXPECT_LT(took, 3s);
}

TEST_F(Fixture, NothingListeningIsAConnectError) {
  const uint16_t port = server.port();
  Url u = *parseUrl(server.url());
  u.port = static_cast<uint16_t>(port == 65535 ? 1 : port + 1);
  auto r = httpGet(u, get(1000ms));
  EXPECT_FALSE(r);
}

// ---- the cache ----------------------------------------------------------------------

TEST_F(Fixture, FirstUseFetchesAndRefreshDeliversARotatedKey) {
  server.setDocument(doc({k1.publicJwk("one")}));
  JwksCache cache(cacheOptions());
  EXPECT_EQ(cache.current(server.url()), nullptr) << "never blocks: nothing yet";
  ASSERT_TRUE(eventually([&] { return cache.current(server.url()) != nullptr; }));
  EXPECT_EQ(cache.current(server.url())->keys.size(), 1u);

  server.setDocument(doc({k1.publicJwk("one"), k2.publicJwk("two")}));
  std::promise<std::shared_ptr<const KeySet>> got;
  cache.refresh(server.url(), 0ms, [&](std::shared_ptr<const KeySet> k) { got.set_value(k); });
  auto keys = got.get_future().get();
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->keys.size(), 2u);
  auto st = cache.status();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].kids, (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(st[0].lastError.empty());
  EXPECT_EQ(st[0].fetches, 2u);
}

TEST_F(Fixture, AnIssuerAloneIsResolvedByOpenIdDiscoveryThenItsKeysFetched) {
  // Keycloak's layout: the issuer is a realm, its keys at .../protocol/openid-connect/certs.
  const std::string issuer = server.base() + "/realms/bank/";
  const std::string certs = server.base() + "/realms/bank/protocol/openid-connect/certs";
  server.setDocumentAt("/realms/bank/.well-known/openid-configuration",
                       nlohmann::json{{"issuer", issuer}, {"jwks_uri", certs}}.dump());
  server.setDocumentAt("/realms/bank/protocol/openid-connect/certs", doc({k1.publicJwk("realm-key")}));
  server.setDocument("{}");  // anything else: not a key set
  auto configuration = discoveryUrl(issuer);
  ASSERT_TRUE(configuration.ok());
  JwksCache cache(cacheOptions());
  cache.current(*configuration);
  ASSERT_TRUE(eventually([&] { return cache.current(*configuration) != nullptr; })) << cache.status()[0].lastError;
  auto st = cache.status();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].kids, std::vector<std::string>{"realm-key"});
  EXPECT_EQ(st[0].discoveredJwksUri, certs);
  EXPECT_EQ(server.requests(), 2) << "the document, then the keys it names";

  // The IdP moves its keys: the next fetch follows the document again.
  const std::string moved = server.base() + "/keys/v2";
  server.setDocumentAt("/realms/bank/.well-known/openid-configuration",
                       nlohmann::json{{"issuer", issuer}, {"jwks_uri", moved}}.dump());
  server.setDocumentAt("/keys/v2", doc({k2.publicJwk("moved-key")}));
  std::promise<std::shared_ptr<const KeySet>> got;
  cache.refresh(*configuration, 0ms, [&](std::shared_ptr<const KeySet> k) { got.set_value(k); });
  auto keys = got.get_future().get();
  ASSERT_TRUE(keys);
  EXPECT_EQ(cache.status()[0].kids, std::vector<std::string>{"moved-key"});
  EXPECT_EQ(cache.status()[0].discoveredJwksUri, moved);

  // A document without jwks_uri is a failure that keeps the last good set.
  server.setDocumentAt("/realms/bank/.well-known/openid-configuration", R"({"issuer":"x"})");
  std::promise<std::shared_ptr<const KeySet>> again;
  cache.refresh(*configuration, 0ms, [&](std::shared_ptr<const KeySet> k) { again.set_value(k); });
  ASSERT_TRUE(again.get_future().get());
  EXPECT_NE(cache.status()[0].lastError.find("no \"jwks_uri\""), std::string::npos) << cache.status()[0].lastError;
  EXPECT_EQ(cache.status()[0].kids, std::vector<std::string>{"moved-key"});
}

TEST_F(Fixture, AFailureKeepsTheLastGoodSet) {
  server.setDocument(doc({k1.publicJwk("one")}));
  JwksCache cache(cacheOptions());
  cache.current(server.url());
  ASSERT_TRUE(eventually([&] { return cache.current(server.url()) != nullptr; }));
  for (auto [mode, document, why] :
       {std::tuple{Mode::Error500, std::string("{}"), "HTTP 500"}, std::tuple{Mode::Ok, doc({}), "no usable key"},
        std::tuple{Mode::Ok, std::string("not json"), "not a JWKS"}}) {
    server.setMode(mode);
    server.setDocument(document);
    std::promise<std::shared_ptr<const KeySet>> got;
    cache.refresh(server.url(), 0ms, [&](std::shared_ptr<const KeySet> k) { got.set_value(k); });
    auto keys = got.get_future().get();
    ASSERT_TRUE(keys) << why;
    EXPECT_EQ(keys->keys.size(), 1u) << why;
    EXPECT_NE(cache.status()[0].lastError.find(why), std::string::npos) << cache.status()[0].lastError;
  }
  EXPECT_EQ(cache.status()[0].failures, 3u);
}

TEST_F(Fixture, OnDemandFetchesCoalesceAndAreSpacedByTheGap) {
  server.setDocument(doc({k1.publicJwk("one")}));
  auto o = cacheOptions();
  o.minRefetchGap = 2s;
  JwksCache cache(o);
  cache.current(server.url());
  ASSERT_TRUE(eventually([&] { return cache.current(server.url()) != nullptr; }));
  const int before = server.requests();
  // A burst: one fetch for all of them, each answered with keys fetched after it asked.
  server.setDocument(doc({k1.publicJwk("one"), k2.publicJwk("two")}));
  std::atomic<int> answered{0}, sawTwo{0};
  auto count = [&](std::shared_ptr<const KeySet> k) {
    sawTwo += k && k->keys.size() == 2;
    answered++;
  };
  for (int i = 0; i < 20; ++i) cache.refresh(server.url(), 0ms, count);
  ASSERT_TRUE(eventually([&] { return answered == 20; }));
  EXPECT_EQ(sawTwo, 20);
  EXPECT_EQ(server.requests(), before + 1);
  // Another at once: it waits for the gap, then gets a fresh fetch.
  const auto start = std::chrono::steady_clock::now();
  std::promise<void> done;
  cache.refresh(server.url(), 0ms, [&](auto) { done.set_value(); });
  done.get_future().wait();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1500ms);
  EXPECT_EQ(server.requests(), before + 2);
}

TEST_F(Fixture, PeriodicRefreshPicksUpAChange) {
  server.setDocument(doc({k1.publicJwk("one")}));
  auto o = cacheOptions();
  o.refreshInterval = 1s;
  JwksCache cache(o);
  cache.current(server.url());
  ASSERT_TRUE(eventually([&] { return cache.current(server.url()) != nullptr; }));
  server.setDocument(doc({k2.publicJwk("two")}));
  ASSERT_TRUE(eventually([&] {
    auto k = cache.current(server.url());
    return k && k->keys.size() == 1 && k->keys[0].kid == "two";
  }));
}

TEST_F(Fixture, RetainDropsAUriAndAStalledFetchDoesNotHoldTheDestructor) {
  server.setMode(Mode::Stall);
  auto o = cacheOptions();
  o.defaultTimeout = 1000ms;
  const auto start = std::chrono::steady_clock::now();
  {
    JwksCache cache(o);
    cache.current(server.url());
    ASSERT_TRUE(eventually([&] { return server.requests() == 1; }));  // the fetch is stalled now
    cache.retain({});
    EXPECT_TRUE(cache.status().empty());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
}

}  // namespace
}  // namespace warren::jwt
