#pragma once
// The payments cluster the waypoint's e2e tests and benchmark share: namespace
// payments bound to waypoint payments/waypoint (which takes all traffic), Service
// payments/ledger 10.96.0.20:80 -> 8080, and two waypoint policies: ALLOW GET
// /balance/* from checkout (sa-checkout), DENY POST /admin/*. Written into the
// cluster's YAML directory as an operator would apply it.

namespace warren::e2e {

inline constexpr const char* kWaypointCluster = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: payments
  labels: {istio.io/waypoint-for: all}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Service
metadata: {name: ledger, namespace: payments}
spec:
  clusterIP: 10.96.0.20
  selector: {app: ledger}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ledger-read, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/payments/sa/sa-checkout"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/balance/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin-writes, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules:
  - to: [{operation: {methods: ["POST"], paths: ["/admin/*"]}}]
)";

}  // namespace warren::e2e
