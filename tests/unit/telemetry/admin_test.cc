// The three telemetry ports wired by telemetry::start(): metrics text, readiness
// flipping, config dump, log level changes, default addresses and bind errors.

#include "telemetry/admin.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <atomic>

#include "common/file_io.h"
#include "io/tcp.h"
#include "telemetry/admin_auth.h"
#include "tests/support/test_certs.h"
#include "tests/unit/telemetry/http_client.h"

namespace warren::telemetry {
namespace {

using namespace test;

// The same host as `address` with port 0, so tests keep the default hosts but never
// collide on the well-known ports.
std::string ephemeral(const std::string& address) {
  auto ss = io::parseHostPort(address);
  EXPECT_TRUE(ss.ok()) << address;
  return ss.ok() ? io::formatSockaddr(io::withPort(*ss, 0)) : address;
}

AdminOptions loopbackOptions() {
  AdminOptions o;
  o.metricsAddress = "127.0.0.1:0";
  o.readinessAddress = "127.0.0.1:0";
  o.adminAddress = "127.0.0.1:0";
  return o;
}

// The options above with a token file in a scratch directory, and the header that
// carries the token start() writes there.
struct WithToken {
  testcerts::TempDir dir;
  AdminOptions options = [this] {
    AdminOptions o = loopbackOptions();
    o.adminTokenFile = dir.file("admin-token");
    return o;
  }();
  std::string authorization() const {
    auto token = readTokenFile(options.adminTokenFile);
    EXPECT_TRUE(token.ok()) << token.error().message;
    return "Authorization: Bearer " + (token.ok() ? *token : std::string()) + "\r\n";
  }
};

// Restores spdlog's level however a test ends.
struct LevelGuard {
  spdlog::level::level_enum saved = spdlog::get_level();
  ~LevelGuard() { spdlog::set_level(saved); }
};

TEST(Telemetry, DefaultAddressesAreIstios) {
  const AdminOptions o;
  EXPECT_EQ(o.metricsAddress, "0.0.0.0:15020");
  EXPECT_EQ(o.readinessAddress, "0.0.0.0:15021");
  EXPECT_EQ(o.adminAddress, "127.0.0.1:15000");
}

TEST(Telemetry, AdminBindsToLocalhostByDefault) {
  AdminOptions o;
  o.metricsAddress = ephemeral(o.metricsAddress);
  o.readinessAddress = ephemeral(o.readinessAddress);
  o.adminAddress = ephemeral(o.adminAddress);
  TcpMetrics metrics;
  auto t = start(o, {}, metrics);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ((*t)->admin().address(), "127.0.0.1:" + std::to_string((*t)->admin().port()));
  EXPECT_EQ((*t)->metrics().address(), "0.0.0.0:" + std::to_string((*t)->metrics().port()));
  EXPECT_EQ((*t)->readiness().address(), "0.0.0.0:" + std::to_string((*t)->readiness().port()));
  EXPECT_EQ(httpGet((*t)->admin().port(), "/").status, 200);
}

TEST(Telemetry, MetricsEndpointsServeThePrometheusText) {
  TcpMetrics metrics;
  TcpLabels l;
  l.reporter = "source";
  l.response_flags = "-";
  metrics.connectionOpened(l);
  auto t = start(loopbackOptions(), {}, metrics);
  ASSERT_TRUE(t.ok()) << t.error().message;
  for (const char* path : {"/metrics", "/stats/prometheus"}) {
    const Reply r = httpGet((*t)->metrics().port(), path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(headerValue(r, "Content-Type"), "text/plain; version=0.0.4") << path;
    EXPECT_EQ(r.body, metrics.render()) << path;
  }
  EXPECT_EQ(httpPost((*t)->metrics().port(), "/metrics").status, 405);
  // Metrics are not served on the admin or readiness ports.
  EXPECT_EQ(httpGet((*t)->admin().port(), "/metrics").status, 404);
}

TEST(Telemetry, ReadinessFlipsFrom503To200) {
  std::atomic<bool> ready{false};
  AdminCallbacks cb;
  cb.ready = [&] { return ready.load(); };
  cb.notReadyReason = [] { return std::string("waiting for workload certificates"); };
  TcpMetrics metrics;
  auto t = start(loopbackOptions(), cb, metrics);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const uint16_t port = (*t)->readiness().port();

  Reply r = httpGet(port, "/healthz/ready");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "waiting for workload certificates\n");
  ready = true;
  r = httpGet(port, "/healthz/ready");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready\n");
}

TEST(Telemetry, ReadinessWithoutCallbacksIsNotReady) {
  TcpMetrics metrics;
  auto t = start(loopbackOptions(), {}, metrics);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const Reply r = httpGet((*t)->readiness().port(), "/healthz/ready");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready\n");
}

TEST(Telemetry, ConfigDumpIsTheCallbacksJson) {
  AdminCallbacks cb;
  cb.configDump = [] { return nlohmann::json{{"workloads", 3}, {"odd", std::string("bad\xff")}}; };
  TcpMetrics metrics;
  auto t = start(loopbackOptions(), cb, metrics);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const Reply r = httpGet((*t)->admin().port(), "/config_dump");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(headerValue(r, "Content-Type"), "application/json");
  const auto j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << r.body;
  EXPECT_EQ(j.at("workloads"), 3);  // and invalid UTF-8 did not turn it into a 500
}

TEST(Telemetry, PostLoggingWithTheAdminTokenChangesSpdlogsLevel) {
  LevelGuard guard;
  spdlog::set_level(spdlog::level::info);
  WithToken admin;
  TcpMetrics metrics;
  auto t = start(admin.options, {}, metrics);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const uint16_t port = (*t)->admin().port();

  Reply r = httpGet(port, "/logging");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body).at("level"), "info");

  r = httpPost(port, "/logging?level=debug", "", admin.authorization());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body).at("level"), "debug");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);

  r = httpPost(port, "/logging?level=warn", "", admin.authorization());
  EXPECT_EQ(nlohmann::json::parse(r.body).at("level"), "warn");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);

  // GET never changes anything, even with a level in the query.
  EXPECT_EQ(httpGet(port, "/logging?level=trace").status, 200);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);
}

TEST(Telemetry, BadLogLevelIs400WithTheValidList) {
  LevelGuard guard;
  spdlog::set_level(spdlog::level::info);
  WithToken admin;
  TcpMetrics metrics;
  auto t = start(admin.options, {}, metrics);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const uint16_t port = (*t)->admin().port();
  for (const char* target : {"/logging?level=loud", "/logging"}) {
    const Reply r = httpPost(port, target, "", admin.authorization());
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_NE(r.body.find("trace, debug, info, warn, error, off"), std::string::npos) << r.body;
  }
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
}

// Any local process reaches 127.0.0.1:15000; without the token from the root-only
// file it cannot silence the log. Each refusal is counted on the metrics port.
TEST(Telemetry, PostLoggingWithoutTheAdminTokenIsRefusedAndChangesNothing) {
  LevelGuard guard;
  spdlog::set_level(spdlog::level::info);
  WithToken admin;
  TcpMetrics metrics;
  auto t = start(admin.options, {}, metrics);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const uint16_t port = (*t)->admin().port();
  struct stat st {};
  ASSERT_EQ(::stat(admin.options.adminTokenFile.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const uint64_t before = adminRefusals().load();

  Reply r = httpPost(port, "/logging?level=off");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(headerValue(r, "WWW-Authenticate"), "Bearer realm=\"warren-admin\"");
  EXPECT_NE(r.body.find(admin.options.adminTokenFile), std::string::npos) << r.body;
  r = httpPost(port, "/logging?level=off", "", "Authorization: Bearer " + std::string(64, '0') + "\r\n");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(httpPost(port, "/nosuch").status, 401);  // routes it does not know are covered too
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
  EXPECT_EQ(adminRefusals().load() - before, 3u);
  const std::string page = httpGet((*t)->metrics().port(), "/metrics").body;
  EXPECT_NE(page.find("warren_admin_requests_unauthorized_total " + std::to_string(adminRefusals().load()) + "\n"),
            std::string::npos)
      << page;
  // Reads stay open: warrenctl and kubectl port-forward need no token.
  EXPECT_EQ(httpGet(port, "/logging").status, 200);
  EXPECT_EQ(httpGet(port, "/config_dump").status, 200);
}

TEST(Telemetry, WithoutATokenFileEveryChangeIsRefused) {
  LevelGuard guard;
  spdlog::set_level(spdlog::level::info);
  TcpMetrics metrics;
  AdminOptions o = loopbackOptions();
  o.adminTokenFile = "/proc/warren-cannot-write-here/admin-token";
  for (const AdminOptions& options : {loopbackOptions(), o}) {
    auto t = start(options, {}, metrics);  // still starts: reads and the other ports work
    ASSERT_TRUE(t.ok()) << t.error().message;
    const Reply r = httpPost((*t)->admin().port(), "/logging?level=off");
    EXPECT_EQ(r.status, 403) << options.adminTokenFile;
    EXPECT_NE(r.body.find("disabled"), std::string::npos) << r.body;
    EXPECT_EQ(httpGet((*t)->admin().port(), "/logging").status, 200);
  }
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
}

// A second daemon that cannot bind must not replace the running one's token (the
// operator would be locked out of the daemon that holds the port).
TEST(Telemetry, AStartThatFailsToBindLeavesTheTokenFileAlone) {
  WithToken admin;
  TcpMetrics metrics;
  auto first = start(admin.options, {}, metrics);
  ASSERT_TRUE(first.ok()) << first.error().message;
  const auto token = readTokenFile(admin.options.adminTokenFile);
  ASSERT_TRUE(token.ok());
  AdminOptions second = admin.options;
  second.adminAddress = (*first)->admin().address();  // taken
  EXPECT_FALSE(start(second, {}, metrics).ok());
  EXPECT_EQ(readTokenFile(admin.options.adminTokenFile).value(), *token);
}

TEST(Telemetry, IndexListsRoutesIncludingOnesAddedLater) {
  TcpMetrics metrics;
  auto t = start(loopbackOptions(), {}, metrics);
  ASSERT_TRUE(t.ok()) << t.error().message;
  (*t)->admin().route("GET", "/connections", [](const HttpRequest&) { return HttpResponse{}; });
  const Reply r = httpGet((*t)->admin().port(), "/");
  EXPECT_EQ(r.status, 200);
  for (const char* line : {"GET /config_dump", "GET /logging", "POST /logging", "GET /connections"})
    EXPECT_NE(r.body.find(line), std::string::npos) << line << " in\n" << r.body;
}

TEST(Telemetry, ABusyAddressIsAnErrorNamingIt) {
  auto holder = HttpServer::create({.name = "holder", .address = "127.0.0.1:0"});
  ASSERT_TRUE(holder.ok());
  AdminOptions o = loopbackOptions();
  o.readinessAddress = (*holder)->address();
  TcpMetrics metrics;
  auto t = start(o, {}, metrics);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("readiness server"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find(o.readinessAddress), std::string::npos) << t.error().message;
}

TEST(Telemetry, LogLevelNames) {
  for (const char* name : {"trace", "debug", "info", "warn", "error", "off"}) {
    auto level = parseLogLevel(name);
    ASSERT_TRUE(level) << name;
    EXPECT_EQ(logLevelName(*level), name);
  }
  EXPECT_FALSE(parseLogLevel("DEBUG"));
  EXPECT_FALSE(parseLogLevel(""));
}

}  // namespace
}  // namespace warren::telemetry
