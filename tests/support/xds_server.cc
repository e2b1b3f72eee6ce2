#include "tests/support/xds_server.h"

#include <set>

#include <grpcpp/grpcpp.h>

#include "envoy/service/discovery/v3/discovery.grpc.pb.h"

namespace warren::testxds {

namespace ds = envoy::service::discovery::v3;
using Stream = grpc::ServerReaderWriter<ds::DeltaDiscoveryResponse, ds::DeltaDiscoveryRequest>;

class XdsTestServer::Service final : public ds::AggregatedDiscoveryService::Service {
 public:
  grpc::Status DeltaAggregatedResources(grpc::ServerContext* ctx, Stream* stream) override {
    auto header = [&](const char* key) {
      auto md = ctx->client_metadata().find(key);
      return md == ctx->client_metadata().end() ? std::string() : std::string(md->second.data(), md->second.size());
    };
    const std::string auth = header("authorization"), clusterId = header("clusterid");
    Open open{ctx, stream, 0, {}};
    {
      std::lock_guard lock(mu_);
      open.id = ++streams_;
      live_[open.id] = ctx;
      active_ = open;
    }
    std::string nodeId;
    std::map<std::string, std::string> nodeMetadata;
    ds::DeltaDiscoveryRequest req;
    while (stream->Read(&req)) {
      if (req.has_node()) {
        nodeId = req.node().id();
        for (const auto& [k, v] : req.node().metadata().fields())
          if (v.has_string_value()) nodeMetadata[k] = v.string_value();
      }
      SeenRequest seen{open.id,
                       req.type_url(),
                       req.response_nonce(),
                       req.has_error_detail(),
                       req.error_detail().message(),
                       {req.resource_names_subscribe().begin(), req.resource_names_subscribe().end()},
                       {req.initial_resource_versions().begin(), req.initial_resource_versions().end()},
                       nodeId,
                       nodeMetadata,
                       auth,
                       clusterId};
      std::lock_guard lock(mu_);
      // A request without a nonce is a (re)subscription: answer with what the
      // client lacks, as istiod does, even when that is nothing.
      if (req.response_nonce().empty() && active_ && active_->id == open.id) {
        auto resp = initialResponse(req);
        stream->Write(resp);
        active_->subscribed.insert(req.type_url());
      }
      seen_.push_back(std::move(seen));
      changed_.notify_all();
    }
    std::lock_guard lock(mu_);
    live_.erase(open.id);
    if (active_ && active_->id == open.id) active_.reset();
    changed_.notify_all();
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "test server ended the stream");
  }

  std::string push(const std::string& typeUrl, const std::map<std::string, google::protobuf::Any>& adds,
                   const std::vector<std::string>& removals) {
    std::lock_guard lock(mu_);
    auto& store = store_[typeUrl];
    const std::string version = "v" + std::to_string(++versions_);
    ds::DeltaDiscoveryResponse resp;
    resp.set_type_url(typeUrl);
    for (const auto& [name, body] : adds) {
      store[name] = {version, body};
      addResource(resp, name, version, body);
    }
    for (const auto& name : removals) {
      store.erase(name);
      resp.add_removed_resources(name);
    }
    if (!active_ || !active_->subscribed.count(typeUrl)) return "";
    resp.set_nonce(nextNonce());
    if (!active_->stream->Write(resp)) return "";
    return resp.nonce();
  }

  std::vector<SeenRequest> requests() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

  std::optional<SeenRequest> waitFor(const std::function<bool(const SeenRequest&)>& pred, size_t from,
                                     std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    std::optional<SeenRequest> found;
    changed_.wait_for(lock, timeout, [&] {
      for (size_t i = from; i < seen_.size(); ++i) {
        if (pred(seen_[i])) {
          found = seen_[i];
          return true;
        }
      }
      return false;
    });
    return found;
  }

  bool waitSubscribed(const std::string& typeUrl, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return active_ && active_->subscribed.count(typeUrl); });
  }

  int streamsAccepted() const {
    std::lock_guard lock(mu_);
    return streams_;
  }

  void breakStream() {
    std::lock_guard lock(mu_);
    if (active_) active_->ctx->TryCancel();
  }

  void cancelAll() {
    std::lock_guard lock(mu_);
    for (auto& [id, ctx] : live_) ctx->TryCancel();
  }

 private:
  struct Stored {
    std::string version;
    google::protobuf::Any body;
  };
  struct Open {
    grpc::ServerContext* ctx;
    Stream* stream;
    int id;
    std::set<std::string> subscribed;
  };

  static void addResource(ds::DeltaDiscoveryResponse& resp, const std::string& name, const std::string& version,
                          const google::protobuf::Any& body) {
    auto* r = resp.add_resources();
    r->set_name(name);
    r->set_version(version);
    *r->mutable_resource() = body;
  }

  std::string nextNonce() { return "nonce-" + std::to_string(++nonces_); }

  ds::DeltaDiscoveryResponse initialResponse(const ds::DeltaDiscoveryRequest& req) {
    ds::DeltaDiscoveryResponse resp;
    resp.set_type_url(req.type_url());
    resp.set_nonce(nextNonce());
    const auto& known = req.initial_resource_versions();
    const auto& store = store_[req.type_url()];
    for (const auto& [name, stored] : store) {
      auto it = known.find(name);
      if (it == known.end() || it->second != stored.version) addResource(resp, name, stored.version, stored.body);
    }
    for (const auto& [name, version] : known)
      if (!store.count(name)) resp.add_removed_resources(name);
    return resp;
  }

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<std::string, std::map<std::string, Stored>> store_;  // type URL -> name -> resource
  std::optional<Open> active_;                                  // the newest open stream, the one pushes go to
  std::map<int, grpc::ServerContext*> live_;
  std::vector<SeenRequest> seen_;
  int streams_ = 0;
  uint64_t versions_ = 0, nonces_ = 0;
};

XdsTestServer::XdsTestServer(int port, std::optional<ServerTls> tls)
    : port_(port), tls_(std::move(tls)), service_(std::make_unique<Service>()) {}

XdsTestServer::~XdsTestServer() { stop(); }

std::unique_ptr<XdsTestServer> XdsTestServer::start(int port, std::optional<ServerTls> tls) {
  std::unique_ptr<XdsTestServer> s(new XdsTestServer(port, std::move(tls)));
  if (!s->listen()) return nullptr;
  return s;
}

bool XdsTestServer::listen() {
  grpc::ServerBuilder builder;
  int selected = 0;
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (tls_) {
    grpc::SslServerCredentialsOptions ssl;  // no client certificate: the client proves itself with its token
    ssl.pem_key_cert_pairs.push_back({tls_->keyPem, tls_->certChainPem});
    creds = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port_), creds, &selected);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || selected == 0) {
    server_.reset();
    return false;
  }
  port_ = selected;
  return true;
}

void XdsTestServer::stop() {
  if (!server_) return;
  // Handlers block in Read until their stream ends; end them so Shutdown returns.
  service_->cancelAll();
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  server_.reset();
}

bool XdsTestServer::restart() {
  stop();
  return listen();
}

std::string XdsTestServer::push(const std::string& typeUrl, const std::map<std::string, google::protobuf::Any>& adds,
                                const std::vector<std::string>& removals) {
  return service_->push(typeUrl, adds, removals);
}

std::vector<SeenRequest> XdsTestServer::requests() const { return service_->requests(); }

std::optional<SeenRequest> XdsTestServer::waitFor(const std::function<bool(const SeenRequest&)>& pred, size_t from,
                                                  std::chrono::milliseconds timeout) const {
  return service_->waitFor(pred, from, timeout);
}

std::optional<SeenRequest> XdsTestServer::waitForReply(const std::string& nonce,
                                                       std::chrono::milliseconds timeout) const {
  return waitFor([&](const SeenRequest& r) { return r.nonce == nonce; }, 0, timeout);
}

bool XdsTestServer::waitSubscribed(const std::string& typeUrl, std::chrono::milliseconds timeout) const {
  return service_->waitSubscribed(typeUrl, timeout);
}

int XdsTestServer::streamsAccepted() const { return service_->streamsAccepted(); }

void XdsTestServer::breakStream() { service_->breakStream(); }

}  // namespace warren::testxds
