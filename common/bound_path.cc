#include "common/bound_path.h"

#include <sys/stat.h>
#include <unistd.h>

namespace warren {

BoundPath boundPath(const std::string& path) {
  BoundPath p{path};
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    p.dev = st.st_dev;
    p.ino = st.st_ino;
  }
  return p;
}

bool unlinkIfStillOurs(const BoundPath& p) {
  struct stat st {};
  if (p.ino == 0 || ::lstat(p.path.c_str(), &st) != 0) return false;
  if (st.st_dev != p.dev || st.st_ino != p.ino) return false;  // a successor's
  return ::unlink(p.path.c_str()) == 0;
}

}  // namespace warren
