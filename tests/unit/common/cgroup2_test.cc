// Finding the cgroup v2 root from mountinfo, on the layouts nodes really have.

#include "common/cgroup2.h"

#include <gtest/gtest.h>

namespace warren {
namespace {

TEST(Cgroup2Root, UnifiedHostsHaveItAtSysFsCgroup) {
  const char* mi =
      "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
      "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
      "31 22 0:27 / /sys/fs/bpf rw - bpf bpf rw,mode=700\n";
  EXPECT_EQ(findCgroup2Root(mi).value(), "/sys/fs/cgroup");
}

TEST(Cgroup2Root, HybridHostsHaveItUnderUnified) {
  // systemd's hybrid layout (v1 controllers, v2 at unified), as on this CI VM.
  const char* mi =
      "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  EXPECT_EQ(findCgroup2Root(mi).value(), "/sys/fs/cgroup/unified");
}

TEST(Cgroup2Root, TheHostsRootIsPreferredOverAContainersSubtree) {
  // A container with its own cgroup namespace sees a subtree at /sys/fs/cgroup;
  // the DaemonSet mounts the host's root elsewhere.
  const char* mi =
      "500 400 0:26 /kubepods/pod1/ctr /sys/fs/cgroup ro - cgroup2 cgroup rw\n"
      "501 400 0:26 / /host/sys/fs/cgroup rw - cgroup2 cgroup rw\n";
  EXPECT_EQ(findCgroup2Root(mi).value(), "/host/sys/fs/cgroup");
  auto onlySubtree = findCgroup2Root("500 400 0:26 /kubepods/pod1/ctr /sys/fs/cgroup ro - cgroup2 cgroup rw\n");
  ASSERT_FALSE(onlySubtree.ok());
  EXPECT_NE(onlySubtree.error().message.find("only part of the hierarchy"), std::string::npos);
}

TEST(Cgroup2Root, InsideItsOwnCgroupNamespaceTheHostsRootReadsAsAnAncestor) {
  // The DaemonSet's hostPath /sys/fs/cgroup seen from a container with a private
  // cgroup namespace: the root field is relative to that namespace.
  EXPECT_EQ(findCgroup2Root("600 500 0:26 /../../.. /sys/fs/cgroup rw - cgroup2 cgroup rw\n").value(),
            "/sys/fs/cgroup");
  EXPECT_FALSE(findCgroup2Root("600 500 0:26 /../x /sys/fs/cgroup rw - cgroup2 cgroup rw\n").ok());
}

TEST(Cgroup2Root, OptionalFieldsEscapesAndAbsence) {
  // Optional fields before the separator, and an escaped space in the mount point.
  EXPECT_EQ(findCgroup2Root("7 1 0:5 / /mnt/cg\\040two rw shared:1 master:2 - cgroup2 none rw\n").value(),
            "/mnt/cg two");
  auto none = findCgroup2Root("30 22 0:27 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no cgroup2"), std::string::npos);
  EXPECT_FALSE(findCgroup2Root("").ok());
  EXPECT_FALSE(findCgroup2Root("garbage\n- cgroup2\n").ok());
}

TEST(Cgroup2Root, ThisMachineHasOne) {
  // Whatever this machine's layout, the capture programs need one; the tests that
  // load them would fail without it.
  auto root = detectCgroup2Root();
  ASSERT_TRUE(root.ok()) << root.error().message;
  EXPECT_EQ(root->front(), '/');
}

}  // namespace
}  // namespace warren
