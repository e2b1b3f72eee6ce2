// Who may change a daemon through its admin port: the decision alone (no sockets),
// the refusals' wording, and the token file's mode.

#include "telemetry/admin_auth.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "common/file_io.h"
#include "tests/support/test_certs.h"

namespace warren::telemetry {
namespace {

HttpRequest request(std::string method, std::string authorization = "") {
  HttpRequest r;
  r.method = std::move(method);
  r.path = "/logging";
  if (!authorization.empty()) r.headers["authorization"] = std::move(authorization);
  return r;
}

const std::optional<std::string> kToken = std::string(64, 'a');

TEST(AdminAuth, ReadsNeedNoToken) {
  EXPECT_EQ(judgeAdminRequest(request("GET"), kToken), AdminVerdict::kAllowed);
  EXPECT_EQ(judgeAdminRequest(request("GET"), std::nullopt), AdminVerdict::kAllowed);
}

TEST(AdminAuth, EveryOtherMethodNeedsTheToken) {
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "HEAD", "get"}) {
    EXPECT_EQ(judgeAdminRequest(request(method), kToken), AdminVerdict::kNoCredentials) << method;
    EXPECT_EQ(judgeAdminRequest(request(method, "Bearer " + *kToken), kToken), AdminVerdict::kAllowed) << method;
  }
}

TEST(AdminAuth, AWrongOrMalformedTokenIsRefused) {
  EXPECT_EQ(judgeAdminRequest(request("POST", "Bearer " + std::string(64, 'b')), kToken), AdminVerdict::kWrongToken);
  EXPECT_EQ(judgeAdminRequest(request("POST", "Bearer " + *kToken + "a"), kToken), AdminVerdict::kWrongToken);
  EXPECT_EQ(judgeAdminRequest(request("POST", "Bearer "), kToken), AdminVerdict::kWrongToken);
  EXPECT_EQ(judgeAdminRequest(request("POST", "Basic " + *kToken), kToken), AdminVerdict::kNoCredentials);
  EXPECT_EQ(judgeAdminRequest(request("POST", *kToken), kToken), AdminVerdict::kNoCredentials);
}

TEST(AdminAuth, WithoutAStoredTokenEveryMutationIsRefused) {
  // Even one carrying some token: no token of ours exists that it could match.
  EXPECT_EQ(judgeAdminRequest(request("POST", "Bearer " + *kToken), std::nullopt), AdminVerdict::kDisabled);
}

TEST(AdminAuth, RefusalsSayWhatToDo) {
  const HttpResponse missing = adminRefusal(AdminVerdict::kNoCredentials, request("POST"), "/run/warren/admin-token");
  EXPECT_EQ(missing.status, 401);
  EXPECT_NE(missing.body.find("POST /logging"), std::string::npos) << missing.body;
  EXPECT_NE(missing.body.find("/run/warren/admin-token"), std::string::npos) << missing.body;
  ASSERT_EQ(missing.headers.size(), 1u);
  EXPECT_EQ(missing.headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(adminRefusal(AdminVerdict::kWrongToken, request("POST"), "f").status, 403);
  const HttpResponse disabled = adminRefusal(AdminVerdict::kDisabled, request("POST"), "");
  EXPECT_EQ(disabled.status, 403);
  EXPECT_NE(disabled.body.find("disabled"), std::string::npos) << disabled.body;
}

TEST(AdminAuth, TokensAreFreshHex) {
  auto a = makeAdminToken(), b = makeAdminToken();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos) << *a;
  EXPECT_NE(*a, *b);
}

TEST(AdminAuth, TheTokenFileIsRootOnlyAndItsDirectoryIsMade) {
  testcerts::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.file("run/admin-token");  // "run" does not exist yet
  ASSERT_TRUE(writeAdminToken(path, "abc").ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(readTokenFile(path).value(), "abc");
  ASSERT_TRUE(writeAdminToken(path, "def").ok());  // a restart replaces it
  EXPECT_EQ(readTokenFile(path).value(), "def");
  EXPECT_FALSE(writeAdminToken("", "abc").ok());
}

}  // namespace
}  // namespace warren::telemetry
