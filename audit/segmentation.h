#pragma once
// `warrenctl audit assert`'s judgement, without I/O: a segmentation spec (YAML)
// and the connections the audit files counted (audit/report.h) in, the flows that
// contradict it out. A spec:
//
//   rules:
//     - name: payments only from checkout on 8080
//       to: {namespace: shop, workload: payments}
//       only_from:
//         - {principal: cluster.local/ns/shop/sa/checkout, ports: ["8080"]}
//     - name: nothing in legacy reaches payments
//       to: {namespace: shop, workload: payments}
//       never_from: [{namespace: legacy}]
//     - name: shop only over mutual TLS
//       to: {namespace: shop}
//       require_mtls: true
//
// A selector's fields (namespace, workload, service, principal: the SPIFFE ID
// with or without "spiffe://", ports) must all match; an absent field matches
// anything. Only connections that reached their destination contradict a rule:
// one the tunnel refused (verdict deny) is segmentation working. An outbound
// record whose destination never answered counts as reached: the records cannot
// tell, and a spec check must not pass on a guess.

#include <string>
#include <string_view>
#include <vector>

#include "audit/report.h"
#include "common/result.h"

namespace warren::audit {

struct Selector {
  std::string ns, workload, service, principal;
  std::vector<std::string> ports;
};

struct SegmentationRule {
  std::string name;
  Selector to;
  std::vector<Selector> onlyFrom;  // empty: no such restriction
  bool hasOnlyFrom = false;        // `only_from: []` means nothing may reach it
  std::vector<Selector> neverFrom;
  bool requireMtls = false;
};

struct SegmentationSpec {
  std::vector<SegmentationRule> rules;
};

Result<SegmentationSpec> parseSegmentationSpec(std::string_view yaml);

// One rule's contradicting connections of one flow.
struct Contradiction {
  std::string rule;
  FlowKey flow;
  std::string why;
  uint64_t connections = 0;
  Millis first = 0, last = 0;
};

std::vector<Contradiction> checkSegmentation(const SegmentationSpec& spec, const std::vector<Connection>& conns);

}  // namespace warren::audit
