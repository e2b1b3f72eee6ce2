#pragma once
// Runs a test body in a forked child with its own mount namespace (every mount
// private), so what it mounts (a bpffs, a small tmpfs to fill up) goes away with
// the child, whatever the test's outcome, and the machine's mounts are never touched.

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

namespace warren::test {

// `body`'s return value as the child's exit code; 90-91: the namespace could not
// be set up; -1: the child did not exit normally.
template <typename F>
int inPrivateMountNamespace(F body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(90);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(91);
    ::_exit(body());
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

}  // namespace warren::test
