// Where the API is and how to authenticate: in-cluster and kubeconfig, and the
// mistakes that must be refused with a reason.

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "source/kube/kube_config.h"
#include "tests/support/test_certs.h"

namespace warren::source::kube {
namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(InClusterConfig, ReadsTheServiceAccountDirectoryAndTheServiceAddress) {
  testcerts::TempDir dir;
  write(dir.file("token"), "tok-1\n");
  write(dir.file("ca.crt"), "-----BEGIN CERTIFICATE-----\n");
  auto c = inClusterConfig("10.96.0.1", "443", dir.path());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->server.tls);
  EXPECT_EQ(c->server.host, "10.96.0.1");
  EXPECT_EQ(c->server.port, 443);
  EXPECT_EQ(c->server.target, "");
  EXPECT_EQ(c->tls.ca.file, dir.file("ca.crt"));
  EXPECT_EQ(c->tokenFile, dir.file("token"));
  EXPECT_EQ(*bearerToken(*c), "tok-1");
}

TEST(InClusterConfig, AnIpv6ServiceAddressIsBracketed) {
  testcerts::TempDir dir;
  write(dir.file("token"), "t");
  write(dir.file("ca.crt"), "x");
  auto c = inClusterConfig("fd00:10:96::1", "6443", dir.path());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.host, "fd00:10:96::1");
  EXPECT_EQ(c->server.hostHeader(), "[fd00:10:96::1]:6443");
}

TEST(InClusterConfig, OutsideAPodSaysToUseAKubeconfig) {
  testcerts::TempDir dir;
  auto c = inClusterConfig("", "", dir.path());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("--kubeconfig"), std::string::npos) << c.error().message;
}

TEST(InClusterConfig, AMissingTokenIsNamedAtStart) {
  testcerts::TempDir dir;
  write(dir.file("ca.crt"), "x");
  auto c = inClusterConfig("10.96.0.1", "443", dir.path());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find(dir.file("token")), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("automountServiceAccountToken"), std::string::npos);
}

TEST(BearerToken, TheTokenFileIsReadAgainEachTime) {
  testcerts::TempDir dir;
  KubeConfig c;
  c.tokenFile = dir.file("token");
  write(c.tokenFile, "first");
  EXPECT_EQ(*bearerToken(c), "first");
  write(c.tokenFile, "  second\n");
  EXPECT_EQ(*bearerToken(c), "second");
  std::filesystem::remove(c.tokenFile);
  EXPECT_FALSE(bearerToken(c));
}

// A kubeconfig with one cluster and one user; `user` and `cluster` are inserted
// as YAML mappings.
std::string kubeconfig(const std::string& cluster, const std::string& user, const std::string& current = "dev") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: " + current +
         "\n"
         "contexts:\n"
         "- name: dev\n  context: {cluster: c1, user: u1, namespace: payments}\n"
         "- name: other\n  context: {cluster: c2, user: u1}\n"
         "clusters:\n"
         "- name: c1\n  cluster: " +
         cluster +
         "\n"
         "- name: c2\n  cluster: {server: 'https://other.example:6443'}\n"
         "users:\n"
         "- name: u1\n  user: " +
         user + "\n";
}

TEST(Kubeconfig, TokenAndCertificateAuthorityData) {
  // "-----BEGIN CERTIFICATE-----\n" in base64, as kubectl writes *-data fields.
  const std::string ca64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==";
  auto c = kubeconfigFromText(
      kubeconfig("{server: 'https://api.example:6443', certificate-authority-data: " + ca64 + "}", "{token: abc.def}"),
      "/etc/kube", "kubeconfig T");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.host, "api.example");
  EXPECT_EQ(c->server.port, 6443);
  EXPECT_EQ(c->tls.ca.pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_TRUE(c->tls.ca.file.empty());
  EXPECT_EQ(*bearerToken(*c), "abc.def");
  EXPECT_EQ(c->describe, "kubeconfig T, context dev");
}

TEST(Kubeconfig, RelativePathsAreRelativeToTheFile) {
  testcerts::TempDir dir;
  write(dir.file("kc"), kubeconfig("{server: 'https://10.0.0.1', certificate-authority: certs/ca.pem}",
                                   "{tokenFile: tok, client-certificate: /abs/cert.pem, client-key: key.pem}"));
  auto c = kubeconfigFromFile(dir.file("kc"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->tls.ca.file, dir.path() + "/certs/ca.pem");
  EXPECT_EQ(c->tokenFile, dir.path() + "/tok");
  EXPECT_EQ(c->tls.clientCert.file, "/abs/cert.pem");
  EXPECT_EQ(c->tls.clientKey.file, dir.path() + "/key.pem");
  EXPECT_EQ(c->server.port, 443);
}

TEST(Kubeconfig, ClientCertificateDataAndAServerPathPrefix) {
  auto c = kubeconfigFromText(
      kubeconfig("{server: 'https://proxy.example/k8s/clusters/c-1/', tls-server-name: api.internal}",
                 "{client-certificate-data: Y2VydA==, client-key-data: a2V5}"),
      "", "kubeconfig T");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->tls.clientCert.pem, "cert");
  EXPECT_EQ(c->tls.clientKey.pem, "key");
  EXPECT_EQ(c->server.target, "/k8s/clusters/c-1");
  EXPECT_EQ(c->tls.serverName, "api.internal");
  EXPECT_EQ(*bearerToken(*c), "");
}

TEST(Kubeconfig, AChosenContextWinsOverTheCurrentOne) {
  auto c = kubeconfigFromText(kubeconfig("{server: 'https://a.example'}", "{token: t}"), "", "kubeconfig T", "other");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.host, "other.example");
}

TEST(Kubeconfig, RefusesWhatItCannotDoSafelyAndSaysWhy) {
  struct Case {
    const char* description;
    std::string text;
    const char* messageHas;
  };
  const Case cases[] = {
      {"skipping TLS verification", kubeconfig("{server: 'https://a', insecure-skip-tls-verify: true}", "{token: t}"),
       "insecure-skip-tls-verify"},
      {"plain http", kubeconfig("{server: 'http://a:8080'}", "{token: t}"), "not https"},
      {"no server", kubeconfig("{certificate-authority: x}", "{token: t}"), "has no server"},
      {"exec plugin", kubeconfig("{server: 'https://a'}", "{exec: {command: aws}}"), "exec and auth-provider"},
      {"auth-provider", kubeconfig("{server: 'https://a'}", "{auth-provider: {name: oidc}}"), "not supported"},
      {"basic auth", kubeconfig("{server: 'https://a'}", "{username: u, password: p}"), "basic authentication"},
      {"certificate without key", kubeconfig("{server: 'https://a'}", "{client-certificate: c.pem}"), "go together"},
      {"bad base64", kubeconfig("{server: 'https://a', certificate-authority-data: '@@@'}", "{token: t}"),
       "certificate-authority-data is not base64"},
      {"unknown current context", kubeconfig("{server: 'https://a'}", "{token: t}", "nope"),
       "context 'nope' is not defined"},
      {"no current context", "apiVersion: v1\nkind: Config\nclusters: []\n", "no current-context"},
      {"proxy", kubeconfig("{server: 'https://a', proxy-url: 'http://p:3128'}", "{token: t}"), "proxy-url"},
      {"malformed", "clusters: [", "malformed YAML"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto r = kubeconfigFromText(c.text, "", "kubeconfig T");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find(c.messageHas), std::string::npos) << r.error().message;
  }
}

TEST(Kubeconfig, AMissingFileIsNamed) {
  auto r = kubeconfigFromFile("/nonexistent/kubeconfig");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/nonexistent/kubeconfig"), std::string::npos);
}

}  // namespace
}  // namespace warren::source::kube
