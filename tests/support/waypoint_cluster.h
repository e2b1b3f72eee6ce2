#pragma once
// A small cluster with a waypoint, as operator-written YAML, shared by the tests of
// everything that shows waypoints (config dump, explain, warrenctl waypoint):
//
//   payments/waypoint   Gateway (istio-waypoint, waypoint-for all); no Service of its
//                       own, so the state makes one; pod waypoint-abc 10.244.1.50
//   payments/ledger     Service 10.96.0.20:80 -> 8080, bound to the waypoint by its
//                       label; pod ledger-0 10.244.2.20
//   payments/audit-0    pod 10.244.2.30, bound to the waypoint by its own label
//   payments/db         Service 10.96.0.30:5432, not bound; pod db-0 10.244.2.40
//   payments/checkout   pod 10.244.1.10, the client
//
// Waypoint policies: ledger-get (Gateway waypoint, ALLOW GET /api/* from checkout),
// ledger-no-delete (Service ledger, DENY DELETE), broken (Gateway waypoint, a path
// template the waypoint refuses: enforced as deny-all, with a note). The tunnel's
// own (L4) policy ledger-from-waypoint lets only the waypoint reach ledger-0.

namespace warren::testdata {

inline const char* kWaypointCluster = R"(apiVersion: v1
kind: Namespace
metadata: {name: payments, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: payments, labels: {istio.io/waypoint-for: all}}
spec: {gatewayClassName: istio-waypoint}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-abc, namespace: payments, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint}
status: {podIP: 10.244.1.50}
---
apiVersion: v1
kind: Service
metadata: {name: ledger, namespace: payments, labels: {istio.io/use-waypoint: waypoint}}
spec: {clusterIP: 10.96.0.20, selector: {app: ledger}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ledger-0, namespace: payments, labels: {app: ledger}}
spec: {serviceAccountName: ledger}
status: {podIP: 10.244.2.20}
---
apiVersion: v1
kind: Pod
metadata: {name: audit-0, namespace: payments, labels: {istio.io/use-waypoint: waypoint}}
spec: {serviceAccountName: audit}
status: {podIP: 10.244.2.30}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: payments}
spec: {clusterIP: 10.96.0.30, selector: {app: db}, ports: [{port: 5432}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: payments, labels: {app: db}}
spec: {serviceAccountName: db}
status: {podIP: 10.244.2.40}
---
apiVersion: v1
kind: Pod
metadata: {name: checkout, namespace: payments}
spec: {serviceAccountName: checkout}
status: {podIP: 10.244.1.10}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ledger-get, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/payments/sa/checkout"]}}]
    to: [{operation: {methods: [GET], paths: ["/api/*"]}}]
    when: [{key: "request.headers[x-tenant]", values: ["acme"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ledger-no-delete, namespace: payments}
spec:
  targetRefs: [{kind: Service, group: "", name: ledger}]
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: broken, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: ALLOW
  rules: [{to: [{operation: {paths: ["/a/{*}"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ledger-from-waypoint, namespace: payments}
spec:
  selector: {matchLabels: {app: ledger}}
  rules: [{from: [{source: {principals: ["cluster.local/ns/payments/sa/waypoint"]}}]}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: bank-idp, namespace: payments}
spec:
  targetRefs: [{kind: Service, group: "", name: ledger}]
  jwtRules:
  - issuer: https://idp.bank.example
    jwksUri: https://idp.bank.example/keys
    fromHeaders: [{name: x-jwt, prefix: "Bearer "}]
)";

}  // namespace warren::testdata
