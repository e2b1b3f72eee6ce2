#include "tunnel/inpod/reply_routing.h"

#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/unique_fd.h"
#include "tunnel/inpod/sysctl.h"
#include "warren_abi.h"

namespace warren::inpod {

namespace {

// One rtnetlink request: header, family-specific struct, then attributes.
class NetlinkRequest {
 public:
  NetlinkRequest(uint16_t type, const void* body, size_t bodyLen) {
    buf_.resize(NLMSG_SPACE(bodyLen));
    auto* h = header();
    h->nlmsg_len = NLMSG_LENGTH(bodyLen);
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    h->nlmsg_seq = 1;
    std::memcpy(NLMSG_DATA(h), body, bodyLen);
  }
  void addU32(uint16_t type, uint32_t value) {
    size_t at = NLMSG_ALIGN(header()->nlmsg_len);
    buf_.resize(at + RTA_SPACE(sizeof(value)));
    auto* rta = reinterpret_cast<rtattr*>(buf_.data() + at);
    rta->rta_type = type;
    rta->rta_len = RTA_LENGTH(sizeof(value));
    std::memcpy(RTA_DATA(rta), &value, sizeof(value));
    header()->nlmsg_len = static_cast<uint32_t>(at + RTA_SPACE(sizeof(value)));
  }
  const char* data() const { return buf_.data(); }
  size_t size() const { return reinterpret_cast<const nlmsghdr*>(buf_.data())->nlmsg_len; }

 private:
  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
  std::vector<char> buf_;
};

// Sends one request and reads its ACK; EEXIST (already installed) is success.
Status transact(const NetlinkRequest& req, const std::string& what) {
  UniqueFd nl(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!nl) return errnoError(what + ": netlink socket");
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(nl.get(), req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
    return errnoError(what + ": netlink send");
  alignas(nlmsghdr) char reply[4096];
  ssize_t n = ::recv(nl.get(), reply, sizeof(reply), 0);
  if (n < 0) return errnoError(what + ": netlink receive");
  int len = static_cast<int>(n);  // NLMSG_NEXT may take it below 0: keep it signed
  for (auto* h = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
    if (h->nlmsg_type != NLMSG_ERROR) continue;
    int err = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
    if (err == 0 || err == EEXIST) return okStatus();
    return errnoError(what, err);
  }
  return makeError(what + ": no answer from the kernel");
}

Status addRule(int family) {
  fib_rule_hdr rule{};
  rule.family = static_cast<uint8_t>(family);
  rule.action = FR_ACT_TO_TBL;
  NetlinkRequest req(RTM_NEWRULE, &rule, sizeof(rule));
  req.addU32(FRA_PRIORITY, WARREN_REPLY_RULE_PRIORITY);
  req.addU32(FRA_FWMARK, WARREN_ORIGINAL_SOURCE_MARK);
  req.addU32(FRA_FWMASK, WARREN_ORIGINAL_SOURCE_MARK);
  req.addU32(FRA_TABLE, WARREN_REPLY_TABLE);
  return transact(req, std::string(family == AF_INET6 ? "ip -6" : "ip") + " rule fwmark -> table " +
                           std::to_string(WARREN_REPLY_TABLE));
}

Status addLocalDefaultRoute(int family, uint32_t loopback) {
  rtmsg rt{};
  rt.rtm_family = static_cast<uint8_t>(family);
  rt.rtm_protocol = RTPROT_BOOT;
  rt.rtm_scope = RT_SCOPE_HOST;
  rt.rtm_type = RTN_LOCAL;
  NetlinkRequest req(RTM_NEWROUTE, &rt, sizeof(rt));
  req.addU32(RTA_TABLE, WARREN_REPLY_TABLE);
  req.addU32(RTA_OIF, loopback);
  return transact(req, std::string(family == AF_INET6 ? "ip -6" : "ip") + " route local default dev lo table " +
                           std::to_string(WARREN_REPLY_TABLE));
}

}  // namespace

Status installReplyRouting(bool ipv4, bool ipv6) {
  if (auto st = setSysctl("/proc/sys/net/ipv4/tcp_fwmark_accept", "1"); !st) return st;
  for (auto [wanted, path] :
       {std::pair{ipv4, "/proc/sys/net/ipv4/fwmark_reflect"}, std::pair{ipv6, "/proc/sys/net/ipv6/fwmark_reflect"}}) {
    if (!wanted) continue;
    if (auto st = setSysctl(path, "1"); !st) return st;
  }
  const uint32_t lo = ::if_nametoindex("lo");
  if (lo == 0) return errnoError("the pod has no lo");
  for (auto [wanted, family] : {std::pair{ipv4, AF_INET}, std::pair{ipv6, AF_INET6}}) {
    if (!wanted) continue;
    if (auto st = addRule(family); !st) return st.error();
    if (auto st = addLocalDefaultRoute(family, lo); !st) return st.error();
  }
  return okStatus();
}

}  // namespace warren::inpod
