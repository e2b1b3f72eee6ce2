#include "tests/support/kube_api_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "common/netns.h"

namespace warren::testkube {

namespace {

std::string statusBody(int code, const std::string& reason, const std::string& message) {
  return nlohmann::json{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
                        {"status", "Failure"}, {"message", message}, {"reason", reason},
                        {"code", code}}
      .dump();
}

std::string reasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 415: return "Unsupported Media Type";
    case 410: return "Gone";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

std::string whole(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

std::string chunk(const std::string& data) {
  char hex[20];
  std::snprintf(hex, sizeof(hex), "%zx", data.size());
  return std::string(hex) + "\r\n" + data + "\r\n";
}

bool writeAll(SSL* ssl, const std::string& data) {
  return data.empty() || SSL_write(ssl, data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
}

std::string percentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string keyOf(const nlohmann::json& o) {
  const auto& md = o.at("metadata");
  const std::string name = md.at("name");
  return md.contains("namespace") ? md["namespace"].get<std::string>() + "/" + name : name;
}

bool onNode(const nlohmann::json& o, const std::string& node) {
  if (node.empty()) return true;
  return o.contains("spec") && o["spec"].value("nodeName", "") == node;
}

}  // namespace

KubeApiServer::KubeApiServer(const std::string& certChain, const std::string& key, std::string token)
    : token_(std::move(token)) {
  // Collections served by list and watch: name, kind, group/version, path. The
  // first entry of a name sets its kind; the Istio and Gateway API kinds are
  // also served at v1beta1 (serveVersions() narrows it).
  struct Served {
    const char *name, *kind, *apiVersion, *path;
  };
  for (const Served& c : std::initializer_list<Served>{
           {"pods", "Pod", "v1", "/api/v1/pods"},
           {"namespaces", "Namespace", "v1", "/api/v1/namespaces"},
           {"services", "Service", "v1", "/api/v1/services"},
           {"endpointslices", "EndpointSlice", "discovery.k8s.io/v1", "/apis/discovery.k8s.io/v1/endpointslices"},
           {"authorizationpolicies", "AuthorizationPolicy", "security.istio.io/v1",
            "/apis/security.istio.io/v1/authorizationpolicies"},
           {"authorizationpolicies", "AuthorizationPolicy", "security.istio.io/v1beta1",
            "/apis/security.istio.io/v1beta1/authorizationpolicies"},
           {"peerauthentications", "PeerAuthentication", "security.istio.io/v1",
            "/apis/security.istio.io/v1/peerauthentications"},
           {"peerauthentications", "PeerAuthentication", "security.istio.io/v1beta1",
            "/apis/security.istio.io/v1beta1/peerauthentications"},
           {"requestauthentications", "RequestAuthentication", "security.istio.io/v1",
            "/apis/security.istio.io/v1/requestauthentications"},
           {"requestauthentications", "RequestAuthentication", "security.istio.io/v1beta1",
            "/apis/security.istio.io/v1beta1/requestauthentications"},
           {"gateways", "Gateway", "gateway.networking.k8s.io/v1", "/apis/gateway.networking.k8s.io/v1/gateways"},
           {"gateways", "Gateway", "gateway.networking.k8s.io/v1beta1",
            "/apis/gateway.networking.k8s.io/v1beta1/gateways"},
       }) {
    Resource& r = resources_[c.name];
    if (r.kind.empty()) {
      r.kind = c.kind;
      r.apiVersion = c.apiVersion;
    }
    collections_[c.path] = {c.name, c.apiVersion};
  }
  resources_["pods"].nodeScoped = true;
  resources_["daemonsets"].kind = "DaemonSet";  // GET of one object only
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (SSL_CTX_use_certificate_chain_file(ctx_, certChain.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("test API server: cannot load its certificate");
  listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(listener_.get(), 64) != 0)
    throw std::runtime_error("test API server: cannot listen");
  socklen_t len = sizeof(a);
  ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  acceptor_ = std::thread([this] { acceptLoop(); });
}

KubeApiServer::~KubeApiServer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  ::shutdown(listener_.get(), SHUT_RDWR);  // wakes the acceptor's poll
  acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(connections_);
  }
  for (auto& t : threads) t.join();
  SSL_CTX_free(ctx_);
}

std::string KubeApiServer::url() const { return "https://127.0.0.1:" + std::to_string(port_); }

std::string KubeApiServer::upsert(const std::string& resource, nlohmann::json object) {
  std::lock_guard lock(mu_);
  Resource& r = resources_.at(resource);
  const uint64_t rv = nextRv();
  object["metadata"]["resourceVersion"] = std::to_string(rv);
  const std::string key = keyOf(object);
  const bool existed = r.objects.count(key) > 0;
  r.objects[key] = object;
  r.history.push_back({rv, existed ? "MODIFIED" : "ADDED", object});
  cv_.notify_all();
  return std::to_string(rv);
}

std::string KubeApiServer::remove(const std::string& resource, const std::string& key) {
  std::lock_guard lock(mu_);
  Resource& r = resources_.at(resource);
  auto it = r.objects.find(key);
  if (it == r.objects.end()) throw std::runtime_error("test API server: no " + resource + " " + key);
  const uint64_t rv = nextRv();
  nlohmann::json object = it->second;
  object["metadata"]["resourceVersion"] = std::to_string(rv);
  r.objects.erase(it);
  r.history.push_back({rv, "DELETED", object});
  cv_.notify_all();
  return std::to_string(rv);
}

std::string KubeApiServer::bookmark(const std::string& resource) {
  std::lock_guard lock(mu_);
  Resource& r = resources_.at(resource);
  const uint64_t rv = nextRv();
  nlohmann::json object = {{"kind", r.kind}, {"apiVersion", "v1"}};
  object["metadata"]["resourceVersion"] = std::to_string(rv);
  r.history.push_back(Event{rv, "BOOKMARK", object});
  cv_.notify_all();
  return std::to_string(rv);
}

void KubeApiServer::compact() {
  std::lock_guard lock(mu_);
  compactedBelow_ = rv_;
}

void KubeApiServer::removeSilently(const std::string& resource, const std::string& key) {
  std::lock_guard lock(mu_);
  resources_.at(resource).objects.erase(key);
  nextRv();
}

void KubeApiServer::setToken(std::string token) {
  std::lock_guard lock(mu_);
  token_ = std::move(token);
}

void KubeApiServer::forbid(const std::string& resource, bool forbidden) {
  std::lock_guard lock(mu_);
  resources_.at(resource).forbidden = forbidden;
}

void KubeApiServer::serve(const std::string& resource, bool served) {
  std::lock_guard lock(mu_);
  resources_.at(resource).unserved = !served;
}

void KubeApiServer::serveVersions(const std::string& resource, std::set<std::string> apiVersions) {
  std::lock_guard lock(mu_);
  resources_.at(resource).servedVersions = std::move(apiVersions);
}

void KubeApiServer::failNext(const std::string& resource, int count, int status) {
  std::lock_guard lock(mu_);
  resources_.at(resource).failCount = count;
  resources_.at(resource).failStatus = status;
}

void KubeApiServer::goneNextWatch(const std::string& resource, bool asErrorEvent) {
  std::lock_guard lock(mu_);
  resources_.at(resource).goneNext = asErrorEvent ? 2 : 1;
}

void KubeApiServer::dropNextEvent(const std::string& resource) {
  std::lock_guard lock(mu_);
  resources_.at(resource).dropNext = true;
}

void KubeApiServer::holdWatches(const std::string& resource, bool held) {
  std::lock_guard lock(mu_);
  resources_.at(resource).held = held;
  cv_.notify_all();
}

nlohmann::json KubeApiServer::get(const std::string& resource, const std::string& key) const {
  std::lock_guard lock(mu_);
  const Resource& r = resources_.at(resource);
  auto it = r.objects.find(key);
  return it == r.objects.end() ? nlohmann::json() : it->second;
}

void KubeApiServer::endWatches() {
  std::lock_guard lock(mu_);
  endGeneration_++;
  cv_.notify_all();
}

void KubeApiServer::splitEvents(bool split) {
  std::lock_guard lock(mu_);
  split_ = split;
}

std::vector<KubeApiServer::Request> KubeApiServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

bool KubeApiServer::waitFor(const std::function<bool(const std::vector<Request>&)>& pred,
                            std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return pred(requests_); });
}

bool KubeApiServer::waitDelivered(const std::string& resource, const std::string& rv,
                                  std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  const Resource& r = resources_.at(resource);
  const uint64_t want = std::stoull(rv);
  return cv_.wait_for(lock, timeout, [&] {
    if (r.delivered < want) return false;
    for (const auto& [watch, written] : r.writtenByWatch)
      if (written < want) return false;
    return true;
  });
}

bool KubeApiServer::waitWatching(const std::string& resource, int count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  const Resource& r = resources_.at(resource);
  return cv_.wait_for(lock, timeout, [&] { return r.openWatches == count; });
}

void KubeApiServer::acceptLoop() {
  for (;;) {
    // [0] the first listener, [1] the wake-up eventfd, then those of listenIn().
    std::vector<pollfd> ps{{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      for (const auto& l : otherListeners_) ps.push_back({l.get(), POLLIN, 0});
    }
    ::poll(ps.data(), ps.size(), -1);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (ps[1].revents) {
      uint64_t v;
      (void)!::read(wake_.get(), &v, sizeof(v));
    }
    for (size_t i = 0; i < ps.size(); ++i) {
      if (i == 1 || !(ps[i].revents & POLLIN)) continue;
      int fd = ::accept4(ps[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }
}

void KubeApiServer::listenIn(const std::string& netnsPath) {
  auto ns = openNetns(netnsPath);
  if (!ns) throw std::runtime_error("test API server: " + ns.error().message);
  auto fd = socketInNetns(ns->get(), AF_INET, SOCK_STREAM | SOCK_CLOEXEC);
  if (!fd) throw std::runtime_error("test API server: " + fd.error().message);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);  // the same URL there as here
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd->get(), 64) != 0)
    throw std::runtime_error("test API server: cannot listen in " + netnsPath);
  {
    std::lock_guard lock(mu_);
    otherListeners_.push_back(std::move(*fd));
  }
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
}

void KubeApiServer::serve(int rawFd) {
  UniqueFd fd(rawFd);
  timeval tv{5, 0};  // a client that connects and says nothing does not hold the test
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  SSL* ssl = SSL_new(ctx_);
  SSL_set_fd(ssl, fd.get());
  if (SSL_accept(ssl) == 1) {
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0) break;
      head.append(buf, static_cast<size_t>(n));
    }
    if (const size_t end = head.find("\r\n\r\n"); end != std::string::npos) {
      // The body, as long as Content-Length says (a PATCH's patch).
      size_t length = 0;
      std::string lower = head.substr(0, end);
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (size_t at = lower.find("\r\ncontent-length:"); at != std::string::npos)
        length = std::stoul(lower.substr(at + strlen("\r\ncontent-length:")));
      while (head.size() < end + 4 + length) {
        int n = SSL_read(ssl, buf, sizeof(buf));
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      Request req;
      std::string answer = route(ssl, head, req);
      if (!answer.empty()) {
        writeAll(ssl, answer);
        SSL_shutdown(ssl);
      }
    }
  }
  ERR_clear_error();
  SSL_free(ssl);
}

// The answer to send whole, or "" when the request was a watch stream already served.
std::string KubeApiServer::route(SSL* ssl, const std::string& head, Request& req) {
  const size_t sp = head.find(' '), sp2 = head.find(' ', sp + 1);
  req.method = head.substr(0, sp);
  const std::string target = head.substr(sp + 1, sp2 - sp - 1);
  const size_t headEnd = head.find("\r\n\r\n");
  req.body = head.substr(headEnd + 4);
  const std::string contentTypeHeader = "\r\nContent-Type: ";
  if (size_t at = head.find(contentTypeHeader); at != std::string::npos && at < headEnd) {
    const size_t from = at + contentTypeHeader.size();
    req.contentType = head.substr(from, head.find("\r\n", from) - from);
  }
  const size_t q = target.find('?');
  const std::string path = target.substr(0, q);
  if (q != std::string::npos) {
    std::string query = target.substr(q + 1);
    size_t start = 0;
    while (start <= query.size()) {
      size_t amp = query.find('&', start);
      if (amp == std::string::npos) amp = query.size();
      const std::string kv = query.substr(start, amp - start);
      const size_t eq = kv.find('=');
      if (!kv.empty())
        req.query[percentDecode(kv.substr(0, eq))] = eq == std::string::npos ? "" : percentDecode(kv.substr(eq + 1));
      start = amp + 1;
    }
  }
  const std::string authHeader = "\r\nAuthorization: ";
  if (size_t at = head.find(authHeader); at != std::string::npos) {
    const size_t from = at + authHeader.size();
    req.authorization = head.substr(from, head.find("\r\n", from) - from);
  }
  req.watch = req.query.count("watch") && req.query["watch"] != "0" && req.query["watch"] != "false";
  if (auto c = collections_.find(path); c != collections_.end()) {
    req.resource = c->second.resource;
    req.apiVersion = c->second.apiVersion;
  } else if (const std::string prefix = "/api/v1/namespaces/"; path.starts_with(prefix)) {
    // /api/v1/namespaces/<name> or /api/v1/namespaces/<ns>/pods/<name>
    const std::string rest = percentDecode(path.substr(prefix.size()));
    const size_t slash = rest.find('/');
    if (slash == std::string::npos) {
      req.resource = "namespaces";
      req.name = rest;
    } else if (rest.compare(slash, 6, "/pods/") == 0 && rest.size() > slash + 6 &&
               rest.find('/', slash + 6) == std::string::npos) {
      req.resource = "pods";
      req.name = rest.substr(0, slash) + "/" + rest.substr(slash + 6);
    }
  } else if (const std::string apps = "/apis/apps/v1/namespaces/"; path.starts_with(apps)) {
    // /apis/apps/v1/namespaces/<ns>/daemonsets/<name>: one object.
    const std::string rest = path.substr(apps.size());
    const size_t slash = rest.find("/daemonsets/");
    if (slash != std::string::npos && slash > 0) {
      req.resource = "daemonsets";
      req.name = rest.substr(0, slash) + "/" + rest.substr(slash + strlen("/daemonsets/"));
    }
  }

  std::unique_lock lock(mu_);
  auto record = [&](int status) {
    req.status = status;
    requests_.push_back(req);
    cv_.notify_all();
  };
  if (req.authorization != "Bearer " + token_) {
    record(401);
    return whole(401, statusBody(401, "Unauthorized", "Unauthorized"));
  }
  if (req.resource.empty()) {
    record(404);
    return whole(404, statusBody(404, "NotFound", "the server could not find the requested resource"));
  }
  Resource& r = resources_.at(req.resource);
  if (r.unserved || (!req.apiVersion.empty() && !r.servedVersions.empty() && !r.servedVersions.count(req.apiVersion))) {
    // As for a CustomResourceDefinition that is not installed, or does not serve this version.
    record(404);
    return whole(404, statusBody(404, "NotFound", "the server could not find the requested resource"));
  }
  const char* verb = !req.name.empty() ? (req.method == "PATCH" ? "patch" : "get") : req.watch ? "watch" : "list";
  if (r.forbidden) {
    record(403);
    return whole(403,
                 statusBody(403, "Forbidden",
                            req.resource +
                                " is forbidden: User \"system:serviceaccount:warren-system:warren\" "
                                "cannot " +
                                verb + " resource \"" + req.resource + "\" in API group \"\" at the cluster scope"));
  }
  if (r.failCount > 0) {
    r.failCount--;
    record(r.failStatus);
    return whole(r.failStatus, statusBody(r.failStatus, "InternalError", "etcdserver: request timed out"));
  }
  if (!req.name.empty()) return answerObject(r, req);
  if (req.method != "GET") {
    record(405);
    return whole(
        405, statusBody(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
  }
  std::string node;
  if (req.query.count("fieldSelector")) {
    const std::string sel = req.query["fieldSelector"];
    if (!r.nodeScoped || !sel.starts_with("spec.nodeName=")) {
      record(400);
      return whole(400, statusBody(400, "BadRequest", "unsupported field selector " + sel));
    }
    node = sel.substr(strlen("spec.nodeName="));
  }
  if (!req.watch) {
    record(200);
    return answerList(r, req);
  }
  const uint64_t from = req.query.count("resourceVersion") ? std::stoull("0" + req.query["resourceVersion"]) : 0;
  if (r.goneNext == 1 || (from < compactedBelow_)) {
    r.goneNext = 0;
    record(410);
    return whole(410, statusBody(410, "Expired",
                                 "too old resource version: " + std::to_string(from) + " (" +
                                     std::to_string(compactedBelow_) + ")"));
  }
  record(200);
  const int timeoutSeconds = req.query.count("timeoutSeconds") ? std::stoi(req.query["timeoutSeconds"]) : 1800;
  const std::string name = req.resource;
  lock.unlock();
  streamWatch(ssl, SSL_get_fd(ssl), name, req.apiVersion, from, timeoutSeconds, node);
  return "";
}

// One object: GET it, or PATCH it with a merge patch (pods only, as the agent's
// RBAC allows). Called with the lock held; records the request.
std::string KubeApiServer::answerObject(Resource& r, const Request& req) {
  Request rec = req;
  auto record = [&](int status) {
    rec.status = status;
    requests_.push_back(rec);
    cv_.notify_all();
  };
  auto it = r.objects.find(req.name);
  const std::string shortName = req.name.substr(req.name.find('/') + 1);
  if (it == r.objects.end()) {
    record(404);
    return whole(404, statusBody(404, "NotFound", req.resource + " \"" + shortName + "\" not found"));
  }
  if (req.method == "GET") {
    record(200);
    return whole(200, it->second.dump());
  }
  if (req.method != "PATCH" || req.resource != "pods") {
    record(405);
    return whole(
        405, statusBody(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
  }
  if (req.contentType != "application/merge-patch+json") {
    record(415);
    return whole(415, statusBody(415, "UnsupportedMediaType",
                                 "the body of the request was in an unknown format - "
                                 "accepted media types include: "
                                 "application/merge-patch+json"));
  }
  nlohmann::json patch = nlohmann::json::parse(req.body, nullptr, false);
  if (patch.is_discarded() || !patch.is_object()) {
    record(400);
    return whole(400, statusBody(400, "BadRequest", "error decoding patch: invalid JSON"));
  }
  nlohmann::json object = it->second;
  object.merge_patch(patch);
  if (object.contains("metadata") && object["metadata"].contains("annotations") &&
      object["metadata"]["annotations"].empty())
    object["metadata"].erase("annotations");  // as the API server drops an emptied map
  const uint64_t rv = nextRv();
  object["metadata"]["resourceVersion"] = std::to_string(rv);
  it->second = object;
  r.history.push_back({rv, "MODIFIED", object});
  record(200);
  return whole(200, object.dump());
}

std::string KubeApiServer::answerList(Resource& r, const Request& req) {
  std::vector<nlohmann::json> all;
  std::string node;
  if (auto it = req.query.find("fieldSelector"); it != req.query.end())
    node = it->second.substr(strlen("spec.nodeName="));
  for (const auto& [key, o] : r.objects)
    if (onNode(o, node)) all.push_back(o);
  size_t offset = 0;
  if (auto it = req.query.find("continue"); it != req.query.end() && !it->second.empty())
    offset = std::stoul(it->second.substr(it->second.find(':') + 1));
  size_t limit = all.size();
  if (auto it = req.query.find("limit"); it != req.query.end()) limit = std::stoul(it->second);
  nlohmann::json items = nlohmann::json::array();
  for (size_t i = offset; i < all.size() && i < offset + limit; ++i) {
    nlohmann::json item = all[i];
    item.erase("kind");  // the real API leaves them to the list
    item.erase("apiVersion");
    items.push_back(std::move(item));
  }
  nlohmann::json list{{"kind", r.kind + "List"},
                      {"apiVersion", req.apiVersion},
                      {"metadata", {{"resourceVersion", std::to_string(rv_)}}},
                      {"items", items}};
  if (offset + limit < all.size()) list["metadata"]["continue"] = "opaque:" + std::to_string(offset + limit);
  return whole(200, list.dump());
}

void KubeApiServer::streamWatch(SSL* ssl, int fd, const std::string& name, const std::string& apiVersion,
                                uint64_t fromRv, int timeoutSeconds, const std::string& node) {
  const std::string headers = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  if (!writeAll(ssl, headers)) return;
  std::unique_lock lock(mu_);
  Resource& r = resources_.at(name);
  r.openWatches++;
  cv_.notify_all();
  const uint64_t generation = endGeneration_;
  bool ended = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
  uint64_t sent = fromRv;
  const uint64_t watchId = r.nextWatchId++;
  r.writtenByWatch[watchId] = sent;
  bool clean = true;
  if (r.goneNext == 2) {
    r.goneNext = 0;
    const std::string line =
        nlohmann::json{{"type", "ERROR"},
                       {"object", nlohmann::json::parse(statusBody(410, "Expired", "too old resource version"))}}
            .dump() +
        "\n";
    lock.unlock();
    writeAll(ssl, chunk(line));  // and the stream ends, as the API server ends it
    lock.lock();
    ended = true;
  }
  for (;;) {
    if (ended || stopping_ || endGeneration_ != generation || std::chrono::steady_clock::now() >= deadline) break;
    if (r.held) {
      cv_.wait_until(lock, deadline);
      continue;
    }
    std::vector<std::string> lines;
    for (const Event& e : r.history) {
      if (e.rv <= sent) continue;
      sent = e.rv;
      if (e.type != "BOOKMARK" && !onNode(e.object, node)) continue;
      nlohmann::json object = e.object;
      object["apiVersion"] = apiVersion;  // converted to the version watched
      lines.push_back(nlohmann::json{{"type", e.type}, {"object", object}}.dump() + "\n");
    }
    if (lines.empty()) {
      cv_.wait_until(lock, deadline);
      continue;
    }
    const bool drop = r.dropNext;
    r.dropNext = false;
    const bool split = split_;
    lock.unlock();
    bool ok = true;
    if (drop) {
      // Half of the first event, announced as a whole chunk, then a reset.
      const std::string& line = lines.front();
      char hex[20];
      std::snprintf(hex, sizeof(hex), "%zx\r\n", line.size());
      writeAll(ssl, std::string(hex) + line.substr(0, line.size() / 2));
      ::shutdown(fd, SHUT_RDWR);
      ok = clean = false;
    } else if (split) {
      for (const auto& line : lines) {
        const size_t half = line.size() / 2;
        ok = ok && writeAll(ssl, chunk(line.substr(0, half))) && writeAll(ssl, chunk(line.substr(half)));
      }
    } else {
      std::string all;
      for (const auto& line : lines) all += line;
      ok = writeAll(ssl, chunk(all));
    }
    lock.lock();
    if (!ok) {
      clean = false;
      break;
    }
    r.delivered = std::max(r.delivered, sent);
    r.writtenByWatch[watchId] = sent;
    cv_.notify_all();
  }
  r.writtenByWatch.erase(watchId);
  r.openWatches--;
  cv_.notify_all();
  lock.unlock();
  if (clean) writeAll(ssl, "0\r\n\r\n");
}

}  // namespace warren::testkube
