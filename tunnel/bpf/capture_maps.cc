#include "tunnel/bpf/capture_maps.h"

#include <bpf/bpf.h>

#include "common/abi_addr.h"

namespace warren::tunnel {

namespace {
Result<UniqueFd> openPinned(const std::string& pinRoot, const char* name) {
  std::string path = pinRoot + "/" + name;
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return errnoError("open pinned map " + path + " (is warren-agent running with --bpffs " + pinRoot + "?)");
  return UniqueFd(fd);
}
}  // namespace

Result<CaptureMaps> CaptureMaps::open(const std::string& pinRoot) {
  auto origDst = openPinned(pinRoot, WARREN_MAP_ORIG_DST);
  if (!origDst) return origDst.error();
  auto inbound = openPinned(pinRoot, WARREN_MAP_INBOUND);
  if (!inbound) return inbound.error();
  auto hbone = openPinned(pinRoot, WARREN_MAP_HBONE);
  if (!hbone) return hbone.error();
  return CaptureMaps(std::move(*origDst), std::move(*inbound), std::move(*hbone));
}

Result<OriginalDestination> CaptureMaps::originalDestination(uint64_t netnsCookie,
                                                             const sockaddr_storage& appAddr) const {
  warren_conn_key key{};
  key.netns_cookie = netnsCookie;
  if (!sockaddrToAbi(appAddr, &key.family, &key.src, &key.src_port))
    return makeError("BUG: captured connection from a non-IP address");
  warren_orig_dst value{};
  if (bpf_map_lookup_elem(origDst_.get(), &key, &value) != 0)
    return errnoError("no original destination recorded for " + addrPortToString(key.family, key.src, key.src_port));
  OriginalDestination out;
  out.addr = abiToSockaddr(value.family, value.ip, value.port);
  out.netnsCookie = value.netns_cookie;
  out.text = addrPortToString(value.family, value.ip, value.port);
  return out;
}

Status CaptureMaps::registerListeners(const std::string& podIp, int inboundFd, int hboneFd) const {
  auto key = ipKeyFromString(podIp);
  if (!key) return key.error();
  // HBONE first: until the inbound entry exists the pod is not served at all.
  uint64_t value = static_cast<uint64_t>(hboneFd);
  if (bpf_map_update_elem(hbone_.get(), &*key, &value, BPF_ANY) != 0)
    return errnoError("register HBONE listener for " + podIp);
  value = static_cast<uint64_t>(inboundFd);
  if (bpf_map_update_elem(inbound_.get(), &*key, &value, BPF_ANY) != 0)
    return errnoError("register inbound listener for " + podIp);
  return okStatus();
}

}  // namespace warren::tunnel
