#pragma once
// Which of this node's pods in capturing namespaces are captured, and each
// change of that as an event for the audit's `capture` records (README "Audit
// evidence"; `warrenctl audit report`'s coverage section). Pure: after every
// reconcile the agent states where each pod stands (coverageNow) and records
// the difference from the last statement (captureChanges).
//
// In scope: a pod of this node whose namespace captures. Pods of other
// namespaces are never recorded, whatever happens to them.

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/reconcile.h"
#include "source/cluster_types.h"

namespace warren::agent {

// Why a pod in scope is not captured: the records' `reason` codes.
inline constexpr const char* kCapturedReason = "enrolled";
inline constexpr const char* kReasonOptedOut = "opted_out";        // warren.io/mode=disabled, dataplane-mode=none
inline constexpr const char* kReasonGateway = "gateway";           // a Gateway's own pod (it speaks HBONE itself)
inline constexpr const char* kReasonHostNetwork = "host_network";  // spec.hostNetwork
inline constexpr const char* kReasonBlocked = "blocked";           // cannot be captured as it is (CNI ADD refused)
inline constexpr const char* kReasonEnrollmentFailed = "enrollment_failed";
// Running on this node (the view says so) with no network namespace the agent
// knows: it ran before the agent and was not found (yet).
inline constexpr const char* kReasonNoNetns = "no_netns";
// Why a pod left the scope (`released`).
inline constexpr const char* kReleasedNamespaceDisabled = "namespace_disabled";
inline constexpr const char* kReleasedNamespaceGone = "namespace_deleted";
inline constexpr const char* kReleasedPodDeleted = "pod_deleted";

// One pod in scope, as it stands.
struct PodCoverage {
  std::string ns, name, uid;
  bool captured = false;
  std::string reason;  // kCapturedReason, or why not (a kReason* code)
  std::string detail;  // the agent's words: the exemption, the enrollment error
};
using CoverageState = std::map<std::string, PodCoverage>;  // by ns/name

struct CoverageInputs {
  const source::Snapshot& view;
  const std::vector<PodVerdict>& verdicts;                 // the reconcile's, one per pod the runtime runs
  const std::set<std::string>& capturedKeys;               // ns/name of the pods enrolled now
  const std::map<std::string, std::string>& enrollErrors;  // ns/name -> the last enrollment error
  // The view's pods (those with IPs, of this node, not finished) run here even when no CNI
  // ADD told the agent of them: true with the API source. The YAML directory's
  // pods are only names until the runtime starts them.
  bool viewPodsRun = false;
  const std::map<std::string, std::string>& notFoundWhy;  // ns/name -> why its netns was not found
  const std::string& nodeName;
};
CoverageState coverageNow(const CoverageInputs& in);

struct CaptureEvent {
  enum class Kind {
    Started,     // the agent (re)started on this node: the pods in scope follow
    Captured,    // captured from now on
    Uncaptured,  // in scope and not captured from now on (also the end of a capture: previous says)
    Released,    // out of scope from now on (the namespace stopped capturing, the pod went)
  };
  Kind kind = Kind::Started;
  std::string ns, name, uid;
  std::string previous;  // "captured", "uncaptured", or "" (not in scope before)
  std::string reason, detail;
};
std::string_view captureEventName(CaptureEvent::Kind k);

// The events from `before` to `now`: a pod new in scope, a change between
// captured and uncaptured or of the reason code (not of the detail's words
// alone), and a pod out of scope, with why from the view. A pod made again
// under the same name (a new uid) is the old one released and a new one.
std::vector<CaptureEvent> captureChanges(const CoverageState& before, const CoverageState& now,
                                         const source::Snapshot& view);

}  // namespace warren::agent
