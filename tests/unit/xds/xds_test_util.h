#pragma once
// Builders for Istio workload-API messages in the tests: raw address bytes and
// minimal valid resources to modify.

#include <arpa/inet.h>

#include <string>

#include <google/protobuf/any.pb.h>

#include "istio/security/authorization.pb.h"
#include "istio/workload/workload.pb.h"

namespace warren::xds::xdstest {

// An IP literal as the raw bytes istiod puts on the wire.
inline std::string ipBytes(const std::string& ip) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 4);
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 16);
  return "";
}

inline istio::workload::Workload workload(const std::string& uid, const std::string& ip,
                                          const std::string& ns = "default") {
  istio::workload::Workload w;
  w.set_uid(uid);
  w.set_name(uid + "-pod");
  w.set_namespace_(ns);
  if (!ip.empty()) w.add_addresses(ipBytes(ip));
  w.set_tunnel_protocol(istio::workload::HBONE);
  return w;
}

inline istio::workload::Service service(const std::string& name, const std::string& ns, const std::string& vip) {
  istio::workload::Service s;
  s.set_name(name);
  s.set_namespace_(ns);
  s.set_hostname(name + "." + ns + ".svc.cluster.local");
  if (!vip.empty()) s.add_addresses()->set_address(ipBytes(vip));
  auto* p = s.add_ports();
  p->set_service_port(80);
  p->set_target_port(8080);
  return s;
}

inline google::protobuf::Any packAddress(const istio::workload::Workload& w) {
  istio::workload::Address a;
  *a.mutable_workload() = w;
  google::protobuf::Any any;
  any.PackFrom(a);
  return any;
}

inline google::protobuf::Any packAddress(const istio::workload::Service& s) {
  istio::workload::Address a;
  *a.mutable_service() = s;
  google::protobuf::Any any;
  any.PackFrom(a);
  return any;
}

inline google::protobuf::Any packPolicy(const istio::security::Authorization& p) {
  google::protobuf::Any any;
  any.PackFrom(p);
  return any;
}

inline istio::security::Authorization denyFrom(const std::string& name, const std::string& ns,
                                               const std::string& principal) {
  istio::security::Authorization a;
  a.set_name(name);
  a.set_namespace_(ns);
  a.set_scope(istio::security::NAMESPACE);
  a.set_action(istio::security::DENY);
  a.add_groups()->add_rules()->add_matches()->add_principals()->set_exact(principal);
  return a;
}

// An ALLOW policy "only principal may connect", whose match also carries field
// `unknownField` (a newer istiod's restriction these protos do not define) when
// it is not 0.
inline istio::security::Authorization allowOnly(const std::string& name, const std::string& ns,
                                                const std::string& principal, int unknownField = 0) {
  istio::security::Authorization a = denyFrom(name, ns, principal);
  a.set_action(istio::security::ALLOW);
  auto* m = a.mutable_groups(0)->mutable_rules(0)->mutable_matches(0);
  if (unknownField) m->GetReflection()->MutableUnknownFields(m)->AddVarint(unknownField, 1);
  return a;
}

}  // namespace warren::xds::xdstest
