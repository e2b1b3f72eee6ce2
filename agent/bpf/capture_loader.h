#pragma once
// Loads Warren's capture programs, pins maps and links under the pin root, and
// writes the per-pod map entries. Pins outlive the agent on purpose: capture of
// enrolled pods (and failing closed) must not stop while the agent restarts.
// uninstall() is the only thing that detaches.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "warren_abi.h"

struct warren_capture;  // the generated skeleton (bpf/capture.bpf.c)

namespace warren::agent {

struct CaptureOptions {
  std::string pinRoot = WARREN_PIN_ROOT_DEFAULT;
  std::string cgroupPath;  // "": the cgroup2 root found in /proc/self/mountinfo (common/cgroup2.h)
  uint32_t tunnelMark = WARREN_TUNNEL_MARK;
  uint32_t connsPerPod = WARREN_MAX_CONNS_PER_POD;  // each pod's share of warren_orig_dst
};

struct PodEnrollment {
  uint64_t netnsCookie = 0;
  std::vector<std::string> ips;  // textual IPv4 / IPv6
  std::string uid, name, ns, serviceAccount;
};

class CaptureLoader {
 public:
  static Result<std::unique_ptr<CaptureLoader>> load(const CaptureOptions& options);
  ~CaptureLoader();
  CaptureLoader(const CaptureLoader&) = delete;
  CaptureLoader& operator=(const CaptureLoader&) = delete;

  // Idempotent: re-enrolling refreshes the entries and keeps the counters.
  Status enroll(const PodEnrollment& pod, int netnsFd);
  // Removes the pod's entries and detaches its sk_lookup link. Idempotent.
  Status release(uint64_t netnsCookie);
  Result<std::vector<uint64_t>> enrolledCookies() const;
  // Removes entries and link pins that belong to no enrolled pod (after a crash).
  void pruneOrphans();

  const std::string& pinRoot() const { return options_.pinRoot; }

  // Unpins every link and map under pinRoot: the programs detach.
  static Status uninstall(const std::string& pinRoot);

 private:
  CaptureLoader(CaptureOptions options, ::warren_capture* skel) : options_(std::move(options)), skel_(skel) {}
  Status attachCgroupPrograms();
  std::string linkPath(const std::string& name) const;

  CaptureOptions options_;
  ::warren_capture* skel_;
};

}  // namespace warren::agent
