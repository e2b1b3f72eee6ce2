#pragma once
// Where the Kubernetes API is and how to authenticate to it, as client-go finds
// it: in a pod (the service's environment variables and the mounted service
// account), or from a kubeconfig file (its current context).

#include <string>

#include "common/result.h"
#include "httpclient/connection.h"
#include "httpclient/url.h"

namespace warren::source::kube {

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

struct KubeConfig {
  httpclient::Url server;      // https://host:port; target: a path prefix ("" usually), API paths are appended
  httpclient::TlsOptions tls;  // the cluster CA; a client certificate when the user has one
  std::string token;           // a static bearer token (kubeconfig `token`)
  std::string tokenFile;       // read at every connect: projected tokens rotate (about hourly)
  std::string describe;        // "in-cluster (https://10.96.0.1:443)", "kubeconfig F, context C": for logs
};

// In a pod: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT and the service
// account mounted at saDir (token, ca.crt). The arguments are what the
// environment said ("" when unset), so tests need not touch the process's.
Result<KubeConfig> inClusterConfig(const std::string& host, const std::string& port,
                                   const std::string& saDir = kServiceAccountDir);
// The same from this process's environment.
Result<KubeConfig> inClusterConfigFromEnvironment(const std::string& saDir = kServiceAccountDir);

// A kubeconfig file: its current-context (or `context` when given) names a cluster
// (server, certificate-authority or -data, tls-server-name) and a user (token,
// tokenFile, client-certificate(-data) + client-key(-data)). Relative paths are
// relative to the file, as kubectl reads them. insecure-skip-tls-verify, exec and
// auth-provider plugins, basic auth and proxies are refused with the reason.
Result<KubeConfig> kubeconfigFromFile(const std::string& path, const std::string& context = "");
// The same from text (for tests); baseDir resolves relative paths.
Result<KubeConfig> kubeconfigFromText(const std::string& text, const std::string& baseDir,
                                      const std::string& describeAs, const std::string& context = "");

// The bearer token to send now: the token file read again (surrounding
// whitespace trimmed), else the static token; "" for none (a client certificate,
// or anonymous).
Result<std::string> bearerToken(const KubeConfig& config);

}  // namespace warren::source::kube
