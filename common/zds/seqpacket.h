#pragma once
// One message per send/recv on a unix SOCK_SEQPACKET socket, optionally with
// file descriptors (SCM_RIGHTS). Message boundaries are the kernel's, so there is
// no framing to get wrong; truncation is detected and refused.

#include <string>
#include <vector>

#include <google/protobuf/message_lite.h>

#include "common/result.h"
#include "common/unique_fd.h"

namespace warren::zds {

inline constexpr size_t kMaxMessageBytes = 64 * 1024;
inline constexpr size_t kMaxFds = 2;

struct Received {
  bool eof = false;  // the peer closed the connection
  std::string bytes;
  std::vector<UniqueFd> fds;
};

Status sendMessage(int sock, const std::string& bytes, int fd = -1);
Status sendProto(int sock, const google::protobuf::MessageLite& msg, int fd = -1);
// Blocks unless the socket is non-blocking (then EAGAIN is an error with code EAGAIN).
Result<Received> receiveMessage(int sock);

}  // namespace warren::zds
