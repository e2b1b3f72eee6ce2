#pragma once
// A BIO that lets OpenSSL read and write ciphertext in the connection's own buffers
// instead of its socket. The transport (tls_transport.h) does the socket I/O itself,
// in large batches: one read(2) takes many TLS records and one write(2) sends
// everything the records of a burst produced. Over a socket BIO, OpenSSL pays two
// reads per record (header, then body) and one write per record, which is most of a
// tunnel's CPU on a bulk transfer.

#include <cstddef>

#include "io/byte_buffer.h"
#include "ossl/ossl.h"

namespace warren::tls {

struct CipherBuffers {
  static constexpr size_t kCapacity = 256 * 1024;
  io::ByteBuffer in{kCapacity};   // read from the socket, not yet taken by TLS
  io::ByteBuffer out{kCapacity};  // produced by TLS, not yet written to the socket
  bool inEof = false;             // the socket reached EOF: TLS reads end after `in`
};

// A BIO over `buffers`, which must outlive it. Reads past `in` ask to retry (or see
// EOF after inEof); writes take what fits in `out` and ask to retry when it is full.
// Use the same BIO for both directions: SSL_set_bio(ssl, bio, bio).
Result<BIO*> newCipherBio(CipherBuffers& buffers);

}  // namespace warren::tls
