#pragma once
// Calls back when files in a directory change. An editor's save is several
// inotify events; they are coalesced so the callback sees one change.

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"
#include "common/unique_fd.h"

namespace warren::source {

class DirWatcher {
 public:
  static Result<std::unique_ptr<DirWatcher>> start(const std::string& dir, std::function<void()> onChange);
  ~DirWatcher();

 private:
  DirWatcher(UniqueFd inotify, UniqueFd wake, std::function<void()> onChange);
  void run();

  UniqueFd inotify_, wake_;
  std::function<void()> onChange_;
  std::thread thread_;
};

}  // namespace warren::source
