#pragma once
// A unix socket path a server bound, and the inode it got: at exit the server
// removes the path only while it is still its own. During an upgrade the new
// warren-agent starts beside the old one (DaemonSet maxSurge) and binds the same
// paths (cni.sock, zds.sock) anew; the old one's exit must not delete those.

#include <sys/types.h>

#include <string>

namespace warren {

struct BoundPath {
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;  // 0: unknown (stat failed): never unlinked
};

// Call right after bind().
BoundPath boundPath(const std::string& path);
// Unlinks p.path if it is still the inode recorded; true when it did.
bool unlinkIfStillOurs(const BoundPath& p);

}  // namespace warren
