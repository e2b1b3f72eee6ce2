#include "common/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "common/unique_fd.h"

namespace warren {

Result<std::string> readFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errnoError("open " + path);
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError("read " + path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> readTokenFile(const std::string& path) {
  auto text = readFile(path);
  if (!text) return text.error();
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  size_t begin = 0, end = text->size();
  while (begin < end && space((*text)[begin])) ++begin;
  while (end > begin && space((*text)[end - 1])) --end;
  if (begin == end) return makeError("token file " + path + " is empty");
  return text->substr(begin, end - begin);
}

Status writeFileAtomic(const std::string& path, const std::string& data, mode_t mode) {
  // Unique per process and call; O_EXCL refuses a leftover of the same name.
  static std::atomic<unsigned> seq{0};
  char suffix[48];
  std::snprintf(suffix, sizeof(suffix), ".tmp.%d.%u", static_cast<int>(::getpid()), seq.fetch_add(1));
  const std::string tmp = path + suffix;
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return errnoError("create " + tmp);
  auto fail = [&tmp](Error e) {
    ::unlink(tmp.c_str());
    return e;
  };
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errnoError("write " + tmp));
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail(errnoError("fsync " + tmp));
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errnoError("rename " + tmp + " to " + path));
  return okStatus();
}

}  // namespace warren
