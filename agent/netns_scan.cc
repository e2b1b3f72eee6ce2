#include "agent/netns_scan.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <sstream>

#include "common/file_io.h"
#include "common/netns.h"

namespace warren::agent {

namespace fs = std::filesystem;

namespace {

struct Found {
  std::string path;
  unsigned long long startTime = ~0ull;
  bool pinned = false;
};

// Field 22 of /proc/<pid>/stat: when the process started (clock ticks after boot).
unsigned long long startTimeOf(const std::string& procDir) {
  auto text = readFile(procDir + "/stat");
  if (!text) return ~0ull;
  const size_t paren = text->rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return ~0ull;
  std::istringstream rest(text->substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) return std::stoull(field);
  return ~0ull;
}

Result<std::vector<std::string>> addressesIn(const std::string& path) {
  auto fd = openNetns(path);
  if (!fd) return fd.error();
  auto in = ScopedNetns::enter(fd->get());
  if (!in) return in.error();
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return errnoError("getifaddrs in " + path);
  std::vector<std::string> out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
      if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127) continue;
      ::inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
      if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) || IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) continue;
      ::inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    } else {
      continue;
    }
    out.emplace_back(text);
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace

Result<std::vector<NetnsCandidate>> scanNetworkNamespaces(const NetnsScanOptions& options) {
  struct stat self {};
  if (::stat((options.procRoot + "/self/ns/net").c_str(), &self) != 0)
    return errnoError("stat " + options.procRoot + "/self/ns/net");
  std::map<uint64_t, Found> byInode;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options.procRoot, ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() ||
        !std::all_of(pid.begin(), pid.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      continue;
    const std::string nsPath = entry.path().string() + "/ns/net";
    struct stat st {};
    if (::stat(nsPath.c_str(), &st) != 0 || st.st_ino == self.st_ino) continue;  // gone meanwhile, or ours
    const unsigned long long started = startTimeOf(entry.path().string());
    Found& f = byInode[st.st_ino];
    if (started < f.startTime || f.path.empty()) f = {nsPath, started, false};
  }
  if (ec) return makeError("list " + options.procRoot + ": " + ec.message());
  for (const auto& dir : options.pinDirs)
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      struct stat st {};
      if (::stat(entry.path().c_str(), &st) != 0) continue;
      auto it = byInode.find(st.st_ino);
      if (it != byInode.end() && !it->second.pinned) it->second = {entry.path().string(), 0, true};
    }
  std::vector<NetnsCandidate> out;
  for (const auto& [inode, f] : byInode) {
    auto ips = addressesIn(f.path);
    if (!ips) continue;  // exited since, or not enterable: not a pod we can capture anyway
    out.push_back({inode, f.path, std::move(*ips)});
  }
  return out;
}

}  // namespace warren::agent
