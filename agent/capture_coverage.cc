#include "agent/capture_coverage.h"

#include <algorithm>

#include "source/enrollment.h"

namespace warren::agent {

namespace {

using Why = source::EnrollmentDecision::Why;

// A pod's namespace, when the view has it and it captures.
const source::Namespace* capturingNamespace(const source::Snapshot& view, const std::string& ns) {
  auto it = view.namespaces.find(ns);
  return it != view.namespaces.end() && source::namespaceCaptures(it->second) ? &it->second : nullptr;
}

// The code of an exemption the pod's own decision made (nullptr: not one to
// record: another node's pod, or its namespace does not capture after all).
const char* exemptionReason(Why why) {
  switch (why) {
    case Why::OptedOut: return kReasonOptedOut;
    case Why::Gateway: return kReasonGateway;
    case Why::HostNetwork: return kReasonHostNetwork;
    case Why::Enrolled:
    case Why::OtherNode:
    case Why::UnknownNamespace:
    case Why::NamespaceNotCapturing: return nullptr;
  }
  return nullptr;
}

PodCoverage uncaptured(const std::string& ns, const std::string& name, const std::string& uid, const char* reason,
                       std::string detail) {
  return {ns, name, uid, false, reason, std::move(detail)};
}

std::string stateName(const PodCoverage& p) { return p.captured ? "captured" : "uncaptured"; }

}  // namespace

CoverageState coverageNow(const CoverageInputs& in) {
  CoverageState out;
  for (const PodVerdict& v : in.verdicts) {
    const size_t slash = v.key.find('/');
    if (slash == std::string::npos) continue;
    const std::string ns = v.key.substr(0, slash), name = v.key.substr(slash + 1);
    if (!capturingNamespace(in.view, ns)) continue;
    switch (v.action) {
      case PodVerdict::Action::Enroll:
        if (in.capturedKeys.count(v.key)) {
          out[v.key] = {ns, name, v.uid, true, kCapturedReason, v.reason};
        } else if (auto err = in.enrollErrors.find(v.key); err != in.enrollErrors.end()) {
          out[v.key] = uncaptured(ns, name, v.uid, kReasonEnrollmentFailed, err->second);
        } else {
          // Desired and neither enrolled nor failed: its netns went while we
          // looked (the agent then forgets it, as a pod deleted).
          continue;
        }
        break;
      case PodVerdict::Action::Leave:
        if (const char* reason = exemptionReason(v.why)) out[v.key] = uncaptured(ns, name, v.uid, reason, v.reason);
        break;
      case PodVerdict::Action::Block: out[v.key] = uncaptured(ns, name, v.uid, kReasonBlocked, v.reason); break;
    }
  }
  if (!in.viewPodsRun) return out;
  // Pods the view says run here that no CNI ADD (nor the search for running
  // pods) gave the agent: they run with no capture, whatever they would get.
  for (const auto& [key, pod] : in.view.pods) {
    if (out.count(key) || pod.ips.empty() || pod.finished || pod.nodeName != in.nodeName) continue;
    if (std::any_of(in.verdicts.begin(), in.verdicts.end(), [&](const PodVerdict& v) { return v.key == key; }))
      continue;  // the runtime has it: its verdict decided above
    const source::Namespace* ns = capturingNamespace(in.view, pod.ns);
    if (!ns) continue;
    const auto decision = source::decideEnrollment(ns, pod, in.nodeName);
    if (!decision.enrolled) {
      if (const char* reason = exemptionReason(decision.why))
        out[key] = uncaptured(pod.ns, pod.name, pod.uid, reason, decision.reason);
      continue;
    }
    auto why = in.notFoundWhy.find(key);
    out[key] =
        uncaptured(pod.ns, pod.name, pod.uid, kReasonNoNetns,
                   why != in.notFoundWhy.end()
                       ? why->second
                       : "pod " + key + " runs on this node, but no CNI ADD gave the agent its network namespace");
  }
  return out;
}

std::string_view captureEventName(CaptureEvent::Kind k) {
  switch (k) {
    case CaptureEvent::Kind::Started: return "started";
    case CaptureEvent::Kind::Captured: return "captured";
    case CaptureEvent::Kind::Uncaptured: return "uncaptured";
    case CaptureEvent::Kind::Released: return "released";
  }
  return "started";
}

std::vector<CaptureEvent> captureChanges(const CoverageState& before, const CoverageState& now,
                                         const source::Snapshot& view) {
  std::vector<CaptureEvent> out;
  auto released = [&](const PodCoverage& was) {
    const char* why = kReleasedPodDeleted;
    if (auto ns = view.namespaces.find(was.ns); ns == view.namespaces.end())
      why = kReleasedNamespaceGone;
    else if (!source::namespaceCaptures(ns->second))
      why = kReleasedNamespaceDisabled;
    std::string detail = why == kReleasedPodDeleted ? "pod " + was.ns + "/" + was.name + " no longer runs on this node"
                         : why == kReleasedNamespaceGone ? "namespace " + was.ns + " is gone"
                                                         : "namespace " + was.ns + " no longer captures";
    out.push_back({CaptureEvent::Kind::Released, was.ns, was.name, was.uid, stateName(was), why, std::move(detail)});
  };
  for (const auto& [key, was] : before) {
    auto it = now.find(key);
    if (it == now.end() || (!was.uid.empty() && !it->second.uid.empty() && was.uid != it->second.uid)) released(was);
  }
  for (const auto& [key, is] : now) {
    auto it = before.find(key);
    std::string previous;
    if (it != before.end() && (it->second.uid.empty() || is.uid.empty() || it->second.uid == is.uid)) {
      if (it->second.captured == is.captured && it->second.reason == is.reason) continue;
      previous = stateName(it->second);
    }
    out.push_back({is.captured ? CaptureEvent::Kind::Captured : CaptureEvent::Kind::Uncaptured, is.ns, is.name, is.uid,
                   std::move(previous), is.reason, is.detail});
  }
  return out;
}

}  // namespace warren::agent
