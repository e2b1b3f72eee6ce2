#include "tunnel/inpod/sysctl.h"

#include <fstream>

namespace warren::inpod {

Status setSysctl(const std::string& path, const std::string& value) {
  std::ofstream sysctl(path);
  sysctl << value << "\n";
  sysctl.flush();
  if (!sysctl) return makeError("cannot set " + path + "=" + value + " in the pod");
  return okStatus();
}

}  // namespace warren::inpod
