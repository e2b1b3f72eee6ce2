#pragma once
// RAII owners for OpenSSL objects, and the OpenSSL error queue as a warren::Error.

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace warren::ossl {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    if (p) Free(p);
  }
};

using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;

// Takes another reference on x (X509_up_ref) and owns it.
inline X509Ptr share(X509* x) {
  X509_up_ref(x);
  return X509Ptr(x);
}

// "what: <first OpenSSL reason>" and clears the thread's error queue, so a stale
// error never leaks into the next call's report.
inline Error sslError(const std::string& what) {
  unsigned long e = ERR_get_error();
  std::string reason = e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown" : "no detail";
  ERR_clear_error();
  return makeError(what + ": " + reason);
}

}  // namespace warren::ossl
