#include "xds/xds_client.h"

#include <malloc.h>

#include <google/protobuf/arena.h>

#include <cstdlib>
#include <random>

#include <grpcpp/grpcpp.h>

#include <spdlog/spdlog.h>

#include "common/file_io.h"
#include "envoy/service/discovery/v3/discovery.grpc.pb.h"
#include "xds/resource_cache.h"

namespace warren::xds {

namespace ds = envoy::service::discovery::v3;

struct XdsClient::Stub {
  std::unique_ptr<ds::AggregatedDiscoveryService::Stub> stub;
};

namespace {

std::string envOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// The subscription a stream opens with, per type: wildcard (no names), plus what
// is already held so the server sends only what changed since.
ds::DeltaDiscoveryRequest subscribe(const std::string& typeUrl, const std::map<std::string, std::string>& held) {
  ds::DeltaDiscoveryRequest req;
  req.set_type_url(typeUrl);
  for (const auto& [name, version] : held) (*req.mutable_initial_resource_versions())[name] = version;
  return req;
}

}  // namespace

std::map<std::string, std::string> defaultNodeMetadata() {
  return {{"NAME", envOr("POD_NAME", "")},
          {"NAMESPACE", envOr("POD_NAMESPACE", "")},
          {"INSTANCE_IPS", envOr("INSTANCE_IP", "")},
          {"NODE_NAME", envOr("NODE_NAME", "")}};
}

bool XdsStatus::everyTypeAcked() const {
  return lastAckedNonce.count(kAddressType) > 0 && lastAckedNonce.count(kAuthorizationType) > 0;
}

std::string defaultNodeId() {
  std::string ns = envOr("POD_NAMESPACE", "istio-system");
  return "ztunnel~" + envOr("INSTANCE_IP", "127.0.0.1") + "~" + envOr("POD_NAME", "warren-tunnel") + "." + ns + "~" +
         ns + ".svc.cluster.local";
}

XdsClient::XdsClient(XdsOptions options, std::shared_ptr<grpc::Channel> channel, StateCallback onState)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(std::make_unique<Stub>()),
      onState_(std::move(onState)),
      cache_(std::make_unique<ResourceCache>(options_.trustDomain)) {
  stub_->stub = ds::AggregatedDiscoveryService::NewStub(channel_);
}

Result<std::unique_ptr<XdsClient>> XdsClient::start(XdsOptions options, StateCallback onState) {
  if (options.address.empty()) return makeError("xDS client needs an address (host:port)");
  if (!onState) return makeError("xDS client needs a state callback");
  if (options.initialBackoff <= std::chrono::milliseconds(0) || options.maxBackoff < options.initialBackoff)
    return makeError("xDS backoff: need 0 < initial <= max");
  if (options.connectTimeout <= std::chrono::milliseconds(0)) return makeError("xDS connect timeout must be positive");
  if (options.nodeId.empty()) options.nodeId = defaultNodeId();

  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.rootCertFile.empty()) {
    spdlog::warn("xds: talking to {} WITHOUT TLS (no root certificate file); tests and local development only",
                 options.address);
    creds = grpc::InsecureChannelCredentials();
  } else {
    auto roots = readFile(options.rootCertFile);
    if (!roots) return withContext(roots.error(), "xDS root certificate");
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *roots;
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  if (!options.tlsServerName.empty()) args.SetSslTargetNameOverride(options.tlsServerName);
  // gRPC's own reconnect backoff (up to 120 s by default) would otherwise sit under
  // ours: a stream opened while the channel waits fails at once, whatever our delay.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(options.initialBackoff.count()));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(options.maxBackoff.count()));
  // Despite its name, gRPC core reads this as the minimum connect timeout (one
  // attempt's deadline is the later of it and the backoff's next attempt). It was
  // the initial backoff here, so every attempt that took longer than 500 ms to
  // reach HTTP/2 SETTINGS was abandoned and retried, and a server that slow was
  // never reached (tests/unit/xds/xds_client_test.cc: ASlowHandshakeIsWaitedFor).
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, static_cast<int>(options.connectTimeout.count()));
  // A silently dead connection (a node gone) must end the stream rather than hold
  // a stale state forever. 30 s is above the 15 s minimum istiod's defaults enforce;
  // a server that objects answers GOAWAY and gRPC stretches the interval.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  // gRPC stops pinging after 2 pings without data by default; a quiet mesh sends
  // no data for hours, so keep probing.
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // The first Address response holds the whole mesh; gRPC's 4 MiB default would
  // reject it in a large cluster (the control plane is trusted, the bound is sanity).
  args.SetMaxReceiveMessageSize(256 << 20);
  auto channel = grpc::CreateCustomChannel(options.address, creds, args);
  if (!channel) return makeError("cannot create gRPC channel to " + options.address);

  std::unique_ptr<XdsClient> client(new XdsClient(std::move(options), std::move(channel), std::move(onState)));
  client->thread_ = std::thread([c = client.get()] { c->run(); });
  return client;
}

XdsClient::~XdsClient() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (activeCall_) activeCall_->TryCancel();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

XdsStatus XdsClient::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void XdsClient::updateStatus(const std::function<void(XdsStatus&)>& change) {
  {
    std::lock_guard lock(mu_);
    change(status_);
  }
  statusChanged_.notify_all();
}

bool XdsClient::waitStatus(const std::function<bool(const XdsStatus&)>& pred, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return statusChanged_.wait_for(lock, timeout, [&] { return pred(status_); });
}

std::chrono::milliseconds jitteredBackoff(int attempt, std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                          double unit) {
  double base = static_cast<double>(initial.count());
  for (int i = 0; i < attempt && base < static_cast<double>(max.count()); ++i) base *= 2;
  base = std::min(base, static_cast<double>(max.count()));
  return std::chrono::milliseconds(static_cast<int64_t>(base * (0.5 + 0.5 * unit)));
}

void XdsClient::run() {
  std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int attempt = 0;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    // A stream the server answered was healthy: the next failure starts over.
    if (runStream()) attempt = 0;
    auto delay = jitteredBackoff(attempt++, options_.initialBackoff, options_.maxBackoff, unit(rng));
    std::unique_lock lock(mu_);
    if (stopping_) return;
    spdlog::info("xds: reconnecting to {} in {} ms", options_.address, delay.count());
    wake_.wait_for(lock, delay, [&] { return stopping_; });
  }
}

bool XdsClient::runStream() {
  grpc::ClientContext ctx;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    activeCall_ = &ctx;
  }
  updateStatus([](XdsStatus& s) {
    if (s.streams++ > 0) s.reconnects++;
  });
  bool answered = false;
  std::string ended;
  auto finish = [&] {
    {
      std::lock_guard lock(mu_);
      activeCall_ = nullptr;
    }
    updateStatus([&](XdsStatus& s) {
      s.connected = false;
      s.lastStreamError = ended;
    });
  };

  if (!options_.tokenFile.empty()) {
    auto token = readTokenFile(options_.tokenFile);
    std::string t = token ? *token : "";
    if (!token) {
      ended = token.error().message;
      spdlog::error("xds: {}", ended);
      finish();
      return false;
    }
    ctx.AddMetadata("authorization", "Bearer " + t);
  }
  if (!options_.clusterId.empty()) ctx.AddMetadata("clusterid", options_.clusterId);

  auto stream = stub_->stub->DeltaAggregatedResources(&ctx);
  // The node goes in the first request only; the server keeps it for the stream.
  auto first = subscribe(kAddressType, cache_->versions(kAddressType));
  auto* node = first.mutable_node();
  node->set_id(options_.nodeId);
  auto* fields = node->mutable_metadata()->mutable_fields();
  if (!options_.clusterId.empty()) (*fields)["CLUSTER_ID"].set_string_value(options_.clusterId);
  for (const auto& [k, v] : options_.nodeMetadata) (*fields)[k].set_string_value(v);
  bool ok = stream->Write(first) && stream->Write(subscribe(kAuthorizationType, cache_->versions(kAuthorizationType)));

  // Each response parsed into its own arena, freed whole once applied: a first
  // push of 100,000 resources is ~5 MB of small objects, which freed one by one
  // among the state's would stay resident as fragments (and a message reused
  // across reads keeps its cleared elements).
  constexpr int kTrimAfterResources = 1024;
  google::protobuf::ArenaOptions arenaOptions;
  arenaOptions.start_block_size = 64 << 10;
  arenaOptions.max_block_size = 1 << 20;
  while (ok) {
    google::protobuf::Arena arena(arenaOptions);
    auto& resp = *google::protobuf::Arena::CreateMessage<ds::DeltaDiscoveryResponse>(&arena);
    if (!stream->Read(&resp)) break;
    if (!answered) {
      answered = true;
      spdlog::info("xds: connected to {} as {}", options_.address, options_.nodeId);
      updateStatus([](XdsStatus& s) { s.connected = true; });
    }
    auto outcome = cache_->apply(resp);
    if (outcome.state) {
      // Every delta rebuilds the state with every standing problem: each is said once.
      std::vector<std::string> problems;
      for (const auto& w : outcome.warnings) problems.push_back(w.message);
      for (const auto& p : repeats_.fresh(problems)) spdlog::warn("xds: state: {}", p);
      // Handed on before the reply: once the server sees it, the state is in force
      // (with a NACK, the resources that did convert are).
      onState_(std::move(outcome.state));
    }
    if (outcome.rejected) {
      spdlog::warn("xds: NACK {} nonce {}: {}", resp.type_url(), resp.nonce(), outcome.rejected->message);
      updateStatus([&](XdsStatus& s) {
        s.nacks++;
        s.lastNackMessage = outcome.rejected->message;
      });
    } else {
      spdlog::debug("xds: ACK {} nonce {}: {} added, {} removed", resp.type_url(), resp.nonce(), resp.resources_size(),
                    resp.removed_resources_size());
      // Readiness counts ACKs: a first response rejected in part is not "ready".
      updateStatus([&](XdsStatus& s) {
        s.acks++;
        s.lastAckedNonce[resp.type_url()] = resp.nonce();
      });
    }
    updateStatus([&](XdsStatus& s) {
      s.addresses = cache_->addressCount();
      s.policies = cache_->policyCount();
    });
    ok = stream->Write(outcome.reply);
    // A large response (a first push, a reconnect's resend) freed several MB:
    // given back now rather than held as free heap for the tunnel's lifetime.
    const bool large = resp.resources_size() + resp.removed_resources_size() >= kTrimAfterResources;
    if (large) {
      arena.Reset();
      malloc_trim(0);
    }
  }
  // A failed Write leaves the read side open; cancel so Finish() returns.
  if (!ok) ctx.TryCancel();
  grpc::Status st = stream->Finish();
  ended = "gRPC status " + std::to_string(st.error_code()) + ": " + st.error_message();
  {
    std::lock_guard lock(mu_);
    if (!stopping_) spdlog::warn("xds: stream to {} ended: {}", options_.address, ended);
  }
  finish();
  return answered;
}

nlohmann::json statusJson(const XdsStatus& s) {
  return {{"connected", s.connected},
          {"streams", s.streams},
          {"reconnects", s.reconnects},
          {"acks", s.acks},
          {"nacks", s.nacks},
          {"last_acked_nonce", s.lastAckedNonce},
          {"last_nack", s.lastNackMessage},
          {"last_stream_error", s.lastStreamError},
          {"addresses", s.addresses},
          {"policies", s.policies}};
}

}  // namespace warren::xds
