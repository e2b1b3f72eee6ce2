#include "tls/tls_context.h"

#include <cstring>

namespace warren::tls {

namespace {

constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};

const TlsContext* contextOf(X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  return ssl ? static_cast<const TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl))) : nullptr;
}

// OpenSSL has already checked the chain against the roots (and validity dates);
// this adds the SPIFFE rule on the leaf, so a certificate from the right root but
// without a workload identity fails the handshake itself, not later.
int verifyCallback(int preverifyOk, X509_STORE_CTX* store) {
  if (!preverifyOk) return 0;
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  const TlsContext* ctx = contextOf(store);
  X509* leaf = X509_STORE_CTX_get_current_cert(store);
  if (!ctx || !leaf) return 0;
  if (!identity::peerIdentity(leaf, ctx->bundle().trustDomain)) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  return 1;
}

int selectAlpn(SSL*, const unsigned char** out, unsigned char* outLen, const unsigned char* in, unsigned int inLen,
               void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outLen, kAlpnH2, sizeof(kAlpnH2), in, inLen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // HBONE is HTTP/2 only
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

Result<std::shared_ptr<const TlsContext>> TlsContext::create(Role role, identity::WorkloadCertPtr cert,
                                                             identity::TrustBundlePtr bundle) {
  if (!cert || !bundle) return makeError("BUG: TLS context without a certificate or trust bundle");
  std::shared_ptr<TlsContext> tc(new TlsContext(role, std::move(cert), std::move(bundle)));
  tc->ctx_.reset(SSL_CTX_new(role == Role::Client ? TLS_client_method() : TLS_server_method()));
  SSL_CTX* ctx = tc->ctx_.get();
  if (!ctx) return ossl::sslError("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  // Partial writes and a moving buffer let the connection retry an SSL_write from
  // its own output buffer after EAGAIN; RELEASE_BUFFERS keeps idle connections small.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // No resumption: every connection proves its identity with a full handshake, and
  // the server sends no post-handshake tickets.
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

  const auto& wc = *tc->cert_;
  if (SSL_CTX_use_certificate(ctx, wc.leaf.get()) != 1) return ossl::sslError("load workload certificate");
  for (const auto& c : wc.chain)
    if (SSL_CTX_add1_chain_cert(ctx, c.get()) != 1) return ossl::sslError("load certificate chain");
  if (SSL_CTX_use_PrivateKey(ctx, wc.key.get()) != 1) return ossl::sslError("load workload key");
  if (SSL_CTX_check_private_key(ctx) != 1) return ossl::sslError("workload key does not match its certificate");

  SSL_CTX_set_cert_store(ctx, tc->bundle_->makeStore().release());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verifyCallback);
  SSL_CTX_set_app_data(ctx, tc.get());
  if (role == Role::Client) {
    if (SSL_CTX_set_alpn_protos(ctx, kAlpnH2, sizeof(kAlpnH2)) != 0) return ossl::sslError("set ALPN");
  } else {
    SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
  }
  return std::shared_ptr<const TlsContext>(std::move(tc));
}

Result<TlsContextPtr> TlsContextCache::get(Role role, const identity::WorkloadCertPtr& cert,
                                           const identity::TrustBundlePtr& bundle) {
  auto key = std::make_pair(role, cert->id.uri());
  auto it = byIdentity_.find(key);
  if (it != byIdentity_.end() && &it->second->cert() == cert.get() && &it->second->bundle() == bundle.get())
    return it->second;
  auto made = TlsContext::create(role, cert, bundle);
  if (!made) return made.error();
  byIdentity_[key] = *made;
  return *made;
}

Result<identity::SpiffeId> handshakePeerIdentity(SSL* ssl, const std::string& trustDomain) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (!peer) return makeError("peer presented no certificate");
  return identity::peerIdentity(peer, trustDomain);
}

std::string describeSession(SSL* ssl) {
  const unsigned char* alpn = nullptr;
  unsigned int alpnLen = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpnLen);
  return std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl) +
         " alpn=" + (alpnLen ? std::string(reinterpret_cast<const char*>(alpn), alpnLen) : std::string("none"));
}

}  // namespace warren::tls
