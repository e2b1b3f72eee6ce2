#include "tunnel/proxy/app_socket.h"

#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "common/ip_literal.h"
#include "common/netns.h"
#include "io/tcp.h"
#include "warren_abi.h"

namespace warren::proxy {

namespace {

// A socket bound transparently to clientIp (port chosen at connect, so many
// connections from one client never exhaust ports at bind). Empty reason: done.
std::string bindOriginalSource(int fd, const IpLiteral& client) {
  const bool v6 = client.family == AF_INET6;
  int one = 1;
  // Bound to lo, the SYN routes through the reply table's lo route and arrives
  // with lo as its ingress interface, which the pod's sk_lookup program passes to
  // the app. Unbound, the kernel reports the pod IP's device (eth0), and a packet
  // from a foreign address arriving there is steered to the tunnel's own 15006.
  static const char kLo[] = "lo";
  if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, kLo, sizeof(kLo)) != 0)
    return std::string("SO_BINDTODEVICE lo: ") + std::strerror(errno);
  if (::setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one, sizeof(one)) != 0)
    return std::string("IP_TRANSPARENT: ") + std::strerror(errno);
  if (::setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) != 0)
    return std::string("IP_BIND_ADDRESS_NO_PORT: ") + std::strerror(errno);
  sockaddr_storage sa = toSockaddr(client, 0);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), io::sockaddrLength(sa)) != 0)
    return std::string("bind: ") + std::strerror(errno);
  return {};
}

}  // namespace

Result<AppSocket> openAppSocket(const PodContext& pod, const sockaddr_storage& target, uint32_t mark,
                                const std::string& clientIp, int homeNetns) {
  auto in = ScopedNetns::enter(pod.netns.get(), homeNetns);
  if (!in) return in.error();
  AppSocket out;
  if (!clientIp.empty()) {
    auto client = parseIpLiteral(clientIp);
    if (!pod.replyRouting) {
      out.fallbackReason = "the pod has no reply routing";
    } else if (!client || client->family != target.ss_family) {
      out.fallbackReason = "client address " + clientIp + " is not of the app's family";
    } else {
      auto fd = io::tcpSocket(target.ss_family, mark | WARREN_ORIGINAL_SOURCE_MARK);
      if (!fd) return fd.error();
      out.fallbackReason = bindOriginalSource(fd->get(), *client);
      if (out.fallbackReason.empty()) {
        out.fd = std::move(*fd);
        out.originalSource = true;
        return out;
      }
    }
  }
  auto fd = io::tcpSocket(target.ss_family, mark);
  if (!fd) return fd.error();
  out.fd = std::move(*fd);
  return out;
}

}  // namespace warren::proxy
