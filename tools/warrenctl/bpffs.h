#pragma once
// Low-level access to pinned BPF objects, shared by the map and program readers,
// with the errors a user can act on (missing pin root, permission, wrong mount).

#include <linux/bpf.h>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace warren::ctl {

Error noObjectsError(const std::string& pinRoot);
Error permissionError(const std::string& what);
// errno -> Error, EPERM/EACCES as permissionError.
Error osError(const std::string& what, int err);

// The pin root must exist and be on bpffs: anything else is a wrong --bpffs, and
// saying so beats a puzzling "Invalid argument" from bpf_obj_get.
Status checkPinRoot(const std::string& root);

// bpf_obj_get_info_by_fd fills whatever info the object has into our buffer, so we
// must know what a pin is before asking; the fd's anon inode name says.
enum class Kind { Map, Prog, Link, Other };
Kind kindOf(int fd);

// nullopt: nothing pinned there.
Result<std::optional<UniqueFd>> openPin(const std::string& path);
Result<bpf_link_info> linkInfo(int fd, const std::string& path);
// Names in a directory, sorted, without subdirectories.
Result<std::vector<std::string>> listDir(const std::string& dir);

}  // namespace warren::ctl
