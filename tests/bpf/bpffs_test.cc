// The agent's pin root must be on bpffs: it mounts bpffs at /sys/fs/bpf when
// nothing is there, and refuses a pin root on another filesystem. The mount case
// runs in a child process with its own mount namespace, so the machine's
// /sys/fs/bpf is never touched.

#include "agent/bpf/bpffs.h"
#include "tests/support/private_mount_namespace.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace warren::agent {
namespace {

using test::inPrivateMountNamespace;

TEST(Bpffs, MountedAtSysFsBpfWhenNothingIsThere) {
  int rc = inPrivateMountNamespace([] {
    // What a minimal host looks like: /sys/fs/bpf exists but holds no bpffs.
    if (::mount("tmpfs", kBpffsMountPoint, "tmpfs", 0, nullptr) != 0) return 92;
    if (isOnBpffs(kBpffsMountPoint)) return 93;
    if (!ensurePinRootOnBpffs(std::string(kBpffsMountPoint) + "/warren-bpffs-test")) return 94;
    if (!isOnBpffs(kBpffsMountPoint)) return 95;
    if (!isOnBpffs(std::string(kBpffsMountPoint) + "/warren-bpffs-test")) return 96;
    return 0;
  });
  EXPECT_EQ(rc, 0) << "90-91: namespace set-up, 92-93: simulated host, 94: ensure failed, 95-96: not bpffs after";
}

TEST(Bpffs, APinRootOnAnotherFilesystemIsRefusedWithAHint) {
  char tmpl[] = "/tmp/warren-bpffs-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto st = ensurePinRootOnBpffs(dir + "/pins");
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("not on a BPF filesystem"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find(dir + "/pins"), std::string::npos) << st.error().message;
}

TEST(Bpffs, AnExistingMountIsUsedAsIs) {
  ASSERT_TRUE(isOnBpffs(kBpffsMountPoint)) << "the suite runs with bpffs mounted (scripts/mount-bpffs.sh)";
  const std::string root = std::string(kBpffsMountPoint) + "/warren-bpffs-existing-" + std::to_string(::getpid());
  auto st = ensurePinRootOnBpffs(root);
  std::filesystem::remove(root);
  EXPECT_TRUE(st) << st.error().message;
}

}  // namespace
}  // namespace warren::agent
