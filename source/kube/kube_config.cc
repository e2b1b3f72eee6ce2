#include "source/kube/kube_config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "source/yaml_util.h"

namespace warren::source::kube {
namespace fs = std::filesystem;

namespace {

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return errnoError("read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Standard base64 (RFC 4648 §4) as kubeconfig's *-data fields carry it;
// whitespace (line breaks in hand-edited files) is skipped.
Result<std::string> base64Decode(const std::string& text, const std::string& what) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0, pad = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=') {
      ++pad;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
      continue;
    else
      return makeError(what + " is not base64");
    if (pad) return makeError(what + " is not base64 (data after '=')");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (pad > 2 || bits >= 6) return makeError(what + " is not base64 (bad length)");
  return out;
}

// A named entry of one of kubeconfig's lists (clusters, users, contexts).
YAML::Node named(const YAML::Node& list, const std::string& name, const char* field) {
  if (list && list.IsSequence())
    for (const auto& e : list)
      if (str(at(e, "name")) == name) return at(e, field);
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string resolve(const std::string& path, const std::string& baseDir) {
  if (path.empty() || fs::path(path).is_absolute() || baseDir.empty()) return path;
  return (fs::path(baseDir) / path).string();
}

// certificate-authority / client-certificate / client-key and their -data twins;
// -data wins, as in client-go.
Result<httpclient::PemSource> pemField(const YAML::Node& n, const std::string& field, const std::string& baseDir,
                                       const std::string& where) {
  httpclient::PemSource out;
  const std::string data = str(at(n, (field + "-data").c_str()));
  if (!data.empty()) {
    auto pem = base64Decode(data, where + ": " + field + "-data");
    if (!pem) return pem.error();
    out.pem = std::move(*pem);
    return out;
  }
  out.file = resolve(str(at(n, field.c_str())), baseDir);
  return out;
}

bool isTrue(const YAML::Node& n) {
  const std::string v = str(n);
  return v == "true" || v == "True" || v == "TRUE";
}

}  // namespace

Result<KubeConfig> inClusterConfig(const std::string& host, const std::string& port, const std::string& saDir) {
  if (host.empty() || port.empty())
    return makeError(
        "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: --kube works only in a pod; "
        "outside one, give --kubeconfig FILE");
  const bool v6 = host.find(':') != std::string::npos;
  auto url = httpclient::parseUrl("https://" + (v6 ? "[" + host + "]" : host) + ":" + port);
  if (!url) return withContext(url.error(), "in-cluster API address");
  KubeConfig c;
  c.server = *url;
  c.server.target = "";  // API paths are appended
  c.tls.ca.file = saDir + "/ca.crt";
  c.tokenFile = saDir + "/token";
  c.describe = "in-cluster (https://" + url->hostHeader() + ")";
  // Fail now, with the path, rather than at the first request.
  for (const std::string& f : {c.tls.ca.file, c.tokenFile})
    if (auto text = readFile(f); !text)
      return withContext(text.error(), "the pod's service account (is automountServiceAccountToken off?)");
  return c;
}

Result<KubeConfig> inClusterConfigFromEnvironment(const std::string& saDir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  return inClusterConfig(host ? host : "", port ? port : "", saDir);
}

Result<KubeConfig> kubeconfigFromFile(const std::string& path, const std::string& context) {
  auto text = readFile(path);
  if (!text) return withContext(text.error(), "kubeconfig");
  return kubeconfigFromText(*text, fs::path(path).parent_path().string(), "kubeconfig " + path, context);
}

Result<KubeConfig> kubeconfigFromText(const std::string& text, const std::string& baseDir,
                                      const std::string& describeAs, const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return makeError(describeAs + ": malformed YAML: " + e.msg);
  }
  try {
    const std::string ctxName = context.empty() ? str(at(root, "current-context")) : context;
    if (ctxName.empty()) return makeError(describeAs + " has no current-context (and none was chosen)");
    const YAML::Node ctx = named(at(root, "contexts"), ctxName, "context");
    if (!ctx) return makeError(describeAs + ": context '" + ctxName + "' is not defined");
    const std::string clusterName = str(at(ctx, "cluster"));
    const std::string userName = str(at(ctx, "user"));
    const YAML::Node cluster = named(at(root, "clusters"), clusterName, "cluster");
    if (!cluster)
      return makeError(describeAs + ": cluster '" + clusterName + "' of context '" + ctxName + "' is not defined");
    const std::string where = describeAs + ", cluster '" + clusterName + "'";

    KubeConfig c;
    c.describe = describeAs + ", context " + ctxName;
    if (isTrue(at(cluster, "insecure-skip-tls-verify")))
      return makeError(where +
                       ": insecure-skip-tls-verify is set; warren-agent always verifies the API server's "
                       "certificate: give certificate-authority or certificate-authority-data instead");
    if (!str(at(cluster, "proxy-url")).empty()) return makeError(where + ": proxy-url is not supported");
    const std::string server = str(at(cluster, "server"));
    if (server.empty()) return makeError(where + " has no server");
    auto url = httpclient::parseUrl(server);
    if (!url) return withContext(url.error(), where);
    if (!url->tls) return makeError(where + ": server " + server + " is not https; the API must be reached over TLS");
    // A server URL may carry a path prefix (a proxy in front of the API); API
    // paths are appended to it.
    while (url->target.ends_with("/")) url->target.pop_back();
    c.server = *url;
    auto ca = pemField(cluster, "certificate-authority", baseDir, where);
    if (!ca) return ca.error();
    c.tls.ca = *ca;  // empty: the system trust store, as kubectl does
    c.tls.serverName = str(at(cluster, "tls-server-name"));

    if (!userName.empty()) {
      const YAML::Node user = named(at(root, "users"), userName, "user");
      const std::string uwhere = describeAs + ", user '" + userName + "'";
      if (!user) return makeError(describeAs + ": user '" + userName + "' of context '" + ctxName + "' is not defined");
      if (at(user, "exec") || at(user, "auth-provider"))
        return makeError(uwhere +
                         ": exec and auth-provider credential plugins are not supported; use a token, a "
                         "tokenFile or a client certificate (e.g. a ServiceAccount token)");
      if (!str(at(user, "username")).empty() || !str(at(user, "password")).empty())
        return makeError(uwhere + ": basic authentication (username/password) is not supported");
      c.token = trim(str(at(user, "token")));
      c.tokenFile = resolve(str(at(user, "tokenFile")), baseDir);
      auto cert = pemField(user, "client-certificate", baseDir, uwhere);
      if (!cert) return cert.error();
      auto key = pemField(user, "client-key", baseDir, uwhere);
      if (!key) return key.error();
      if (cert->empty() != key->empty())
        return makeError(uwhere + ": client-certificate and client-key go together; one is missing");
      c.tls.clientCert = *cert;
      c.tls.clientKey = *key;
    }
    return c;
  } catch (const YAML::Exception& e) {
    return makeError(describeAs + ": " + e.msg);
  }
}

Result<std::string> bearerToken(const KubeConfig& config) {
  if (!config.tokenFile.empty()) {
    auto text = readFile(config.tokenFile);
    if (!text) return withContext(text.error(), "bearer token");
    return trim(*text);
  }
  return config.token;
}

}  // namespace warren::source::kube
