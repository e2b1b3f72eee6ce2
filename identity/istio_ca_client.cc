#include "identity/istio_ca_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <spdlog/spdlog.h>

#include "common/file_io.h"
#include "common/unique_fd.h"
#include "identity/identity_manager.h"
#include "identity/x509_util.h"
#include "istio/v1/auth/ca.grpc.pb.h"

namespace warren::identity {

struct IstioCaClient::Stub {
  std::unique_ptr<istio::v1::auth::IstioCertificateService::Stub> stub;
};

namespace {

const char* statusName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    default: return "UNKNOWN_CODE";
  }
}

}  // namespace

IstioCaClient::IstioCaClient(IstioCaOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)), channel_(std::move(channel)), stub_(std::make_unique<Stub>()) {
  stub_->stub = istio::v1::auth::IstioCertificateService::NewStub(channel_);
}

IstioCaClient::~IstioCaClient() = default;

Result<std::unique_ptr<IstioCaClient>> IstioCaClient::create(IstioCaOptions options) {
  if (options.address.empty()) return makeError("Istio CA client needs an address (host:port)");
  if (options.timeout <= std::chrono::milliseconds(0)) return makeError("Istio CA timeout must be positive");

  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.rootCertFile.empty()) {
    spdlog::warn("identity: talking to the CA at {} WITHOUT TLS (no root certificate file); tests only",
                 options.address);
    creds = grpc::InsecureChannelCredentials();
  } else {
    auto roots = readFile(options.rootCertFile);
    if (!roots) return withContext(roots.error(), "Istio CA root certificate");
    // Checked here so a wrong path fails at startup, not as a TLS error per call.
    if (auto parsed = parseCertsPem(*roots, options.rootCertFile); !parsed) return parsed.error();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *roots;
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  if (!options.tlsServerName.empty()) args.SetSslTargetNameOverride(options.tlsServerName);
  auto channel = grpc::CreateCustomChannel(options.address, creds, args);
  if (!channel) return makeError("cannot create gRPC channel to " + options.address);
  return std::unique_ptr<IstioCaClient>(new IstioCaClient(std::move(options), std::move(channel)));
}

Result<std::vector<std::string>> IstioCaClient::sign(const CertificateRequest& req) {
  const std::string where = "CreateCertificate at " + options_.address;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  if (!options_.tokenFile.empty()) {
    auto token = readTokenFile(options_.tokenFile);
    if (!token) return withContext(token.error(), where);
    ctx.AddMetadata("authorization", "Bearer " + *token);
  }
  // gRPC requires lower-case metadata keys; Istio's Go server reads "ClusterID"
  // case-insensitively (Go's metadata lower-cases it too).
  if (!options_.clusterId.empty()) ctx.AddMetadata("clusterid", options_.clusterId);

  istio::v1::auth::IstioCertificateRequest request;
  request.set_csr(req.csrPem);
  request.set_validity_duration(static_cast<int64_t>(req.ttl.count()));
  if (options_.impersonate)
    (*request.mutable_metadata()->mutable_fields())[kImpersonatedIdentityKey].set_string_value(req.id.uri());
  istio::v1::auth::IstioCertificateResponse response;
  grpc::Status status = stub_->stub->CreateCertificate(&ctx, request, &response);
  if (!status.ok())
    return makeError(where + " for " + req.id.uri() + ": " + statusName(status.error_code()) + ": " +
                     status.error_message());
  if (response.cert_chain_size() == 0) return makeError(where + " for " + req.id.uri() + ": empty certificate chain");

  std::vector<std::string> chain(response.cert_chain().begin(), response.cert_chain().end());
  // The last element may hold several blocks; the last block is the candidate root.
  auto last = parseCertsPem(chain.back(), where + ": last chain element");
  if (!last) return last.error();
  X509* top = last->back().get();
  // Only a self-signed certificate can anchor verification; a CA that leaves the root
  // out keeps the previous root (or rootCertFile) in force.
  if (X509_self_signed(top, 0) == 1) {
    std::lock_guard lock(mu_);
    lastRootPem_ = certToPem(top);
  }
  ERR_clear_error();
  return chain;
}

Result<std::vector<std::string>> IstioCaClient::trustRoots() {
  {
    std::lock_guard lock(mu_);
    if (!lastRootPem_.empty()) return std::vector<std::string>{lastRootPem_};
  }
  if (options_.rootCertFile.empty())
    return makeError("no trust roots from the CA at " + options_.address +
                     " yet (no certificate issued and no root certificate file)");
  auto pem = readFile(options_.rootCertFile);
  if (!pem) return pem.error();
  auto roots = parseCertsPem(*pem, options_.rootCertFile);
  if (!roots) return roots.error();
  std::vector<std::string> out;
  for (const auto& r : *roots) out.push_back(certToPem(r.get()));
  return out;
}

}  // namespace warren::identity
