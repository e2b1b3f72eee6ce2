#pragma once
// One message per send/recv on a unix SOCK_SEQPACKET socket, optionally with
// file descriptors (SCM_RIGHTS). Message boundaries are the kernel's, so there is
// no framing to get wrong; truncation is detected and refused.

#include <cerrno>
#include <string>
#include <vector>

#include <google/protobuf/message_lite.h>

#include "common/result.h"
#include "common/unique_fd.h"

namespace warren::zds {

inline constexpr size_t kMaxMessageBytes = 64 * 1024;
// Room for one more fd than any message may carry, so "two fds on an add" is
// seen (and refused by the caller) rather than silently truncated.
inline constexpr size_t kMaxFds = 2;

struct Received {
  bool eof = false;  // the peer closed the connection
  std::string bytes;
  std::vector<UniqueFd> fds;  // owned: closed with the Received unless moved out
};

Status sendMessage(int sock, const std::string& bytes, int fd = -1);
Status sendProto(int sock, const google::protobuf::MessageLite& msg, int fd = -1);

// Blocks unless the socket is non-blocking (then EAGAIN is an error with code EAGAIN).
// A message that did not fit (payload over kMaxMessageBytes or more than kMaxFds
// fds) has been consumed whole and every fd it brought closed; the error's code is
// then EMSGSIZE, so a caller can refuse that one message and keep the connection.
Result<Received> receiveMessage(int sock);

// True when the error is about one bad message (see receiveMessage), not the socket.
inline bool isMessageError(const Error& e) { return e.code == EMSGSIZE; }

// Decodes bytes into msg; false for anything that is not a valid encoding.
bool parseProto(const std::string& bytes, google::protobuf::MessageLite& msg);

}  // namespace warren::zds
