#include "tls/cipher_bio.h"

#include <algorithm>
#include <cstring>

namespace warren::tls {

namespace {

CipherBuffers& buffersOf(BIO* b) { return *static_cast<CipherBuffers*>(BIO_get_data(b)); }

int readEx(BIO* b, char* out, size_t len, size_t* readBytes) {
  BIO_clear_retry_flags(b);
  *readBytes = 0;
  auto& in = buffersOf(b).in;
  if (in.pending() == 0) {
    if (!buffersOf(b).inEof) BIO_set_retry_read(b);
    return 0;  // with the retry flag: come back later; without: EOF
  }
  size_t n = std::min(len, in.pending());
  std::memcpy(out, in.readPtr(), n);
  in.consume(n);
  *readBytes = n;
  return 1;
}

int writeEx(BIO* b, const char* data, size_t len, size_t* written) {
  BIO_clear_retry_flags(b);
  *written = 0;
  auto& out = buffersOf(b).out;
  if (out.room() == 0) {
    BIO_set_retry_write(b);
    return 0;
  }
  char* dst = out.writePtr();  // compacts first, so writable() is all the room
  size_t n = std::min(len, out.writable());
  std::memcpy(dst, data, n);
  out.commit(n);
  *written = n;
  return 1;
}

long ctrl(BIO* b, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;  // the connection flushes `out` itself after every burst
    case BIO_CTRL_PENDING: return static_cast<long>(buffersOf(b).in.pending());
    case BIO_CTRL_WPENDING: return static_cast<long>(buffersOf(b).out.pending());
    case BIO_CTRL_EOF: return buffersOf(b).inEof && buffersOf(b).in.pending() == 0;
    default: return 0;
  }
}

int create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* method() {
  // Made once and never freed: BIOs of every connection share it.
  static BIO_METHOD* m = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "warren cipher buffers");
    if (made && (!BIO_meth_set_read_ex(made, readEx) || !BIO_meth_set_write_ex(made, writeEx) ||
                 !BIO_meth_set_ctrl(made, ctrl) || !BIO_meth_set_create(made, create))) {
      BIO_meth_free(made);
      made = nullptr;
    }
    return made;
  }();
  return m;
}

}  // namespace

Result<BIO*> newCipherBio(CipherBuffers& buffers) {
  BIO_METHOD* m = method();
  if (!m) return ossl::sslError("BIO_meth_new");
  BIO* b = BIO_new(m);
  if (!b) return ossl::sslError("BIO_new");
  BIO_set_data(b, &buffers);
  return b;
}

}  // namespace warren::tls
