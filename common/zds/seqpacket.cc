#include "common/zds/seqpacket.h"

#include <sys/socket.h>

#include <cstring>

namespace warren::zds {

Status sendMessage(int sock, const std::string& bytes, int fd) {
  if (bytes.size() > kMaxMessageBytes)
    return makeError("message of " + std::to_string(bytes.size()) + " bytes is too large", EMSGSIZE);
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  do {
    // MSG_NOSIGNAL: a peer that went away is an error to report, not a SIGPIPE.
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errnoError("send");
  return okStatus();
}

Status sendProto(int sock, const google::protobuf::MessageLite& msg, int fd) {
  std::string bytes;
  if (!msg.SerializeToString(&bytes)) return makeError("BUG: cannot serialize " + msg.GetTypeName());
  return sendMessage(sock, bytes, fd);
}

Result<Received> receiveMessage(int sock) {
  Received out;
  out.bytes.resize(kMaxMessageBytes);
  iovec iov{out.bytes.data(), out.bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    // CLOEXEC at receipt: no window in which a fork+exec could inherit a pod's netns.
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errnoError("receive");
  // Take ownership of every fd first, so an error below closes them.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      out.fds.emplace_back(fd);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC)
    return makeError("message carried more than " + std::to_string(kMaxFds) + " file descriptors", EMSGSIZE);
  if (msg.msg_flags & MSG_TRUNC)
    return makeError("message larger than " + std::to_string(kMaxMessageBytes) + " bytes", EMSGSIZE);
  if (n == 0 && out.fds.empty()) {
    // A zero-length datagram reads like EOF on SEQPACKET; that is fine because
    // every message either side sends encodes to at least two bytes.
    out.eof = true;
    out.bytes.clear();
    return out;
  }
  out.bytes.resize(static_cast<size_t>(n));
  return out;
}

bool parseProto(const std::string& bytes, google::protobuf::MessageLite& msg) { return msg.ParseFromString(bytes); }

}  // namespace warren::zds
