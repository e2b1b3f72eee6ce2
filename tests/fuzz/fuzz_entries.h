#pragma once
// The fuzz targets' entry functions, one per attacker- or config-controlled input.
// Each lives in its own <name>_entry.cc, shared by two callers: the libFuzzer
// binary fuzz_<name> (fuzz_main.cc, clang, WARREN_FUZZ=ON) and the corpus replay
// test (corpus_replay_test.cc) that every normal build runs over
// tests/fuzz/corpus/<name>/, so the corpus is a regression suite there too.
//
// An entry returns 0 for any input. A crash, a sanitizer report or a broken
// invariant (FUZZ_CHECK: abort with a message) is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                       \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

namespace warren::fuzz {

// Waypoint HTTP/1.1 parser (waypoint/http1/): requests or responses, fed in pieces;
// every accepted head re-serialised and re-parsed to the same fields.
int http1Entry(const uint8_t* data, size_t size);
// The waypoint's HTTP/2 server session (waypoint/proxy/h2_session) as the waypoint
// starts it, fed a client's bytes after the connection preface.
int h2ServerEntry(const uint8_t* data, size_t size);
// YAML / JSON documents through the YAML source's conversion and then the state's
// policy conversion (what a bad file in the standalone directory reaches).
int istioYamlEntry(const uint8_t* data, size_t size);
// xDS resources (istio.workload.Address, istio.security.Authorization) from bytes
// through ParseFromString, conversion and buildState.
int xdsEntry(const uint8_t* data, size_t size);
// Kubernetes API watch lines (kubectl -o json shapes) through the watch parser,
// the object store and the YAML source's conversion.
int kubeJsonEntry(const uint8_t* data, size_t size);
// warren-cni's stdin (NetConf) and the agent's CNI request/reply JSON.
int cniJsonEntry(const uint8_t* data, size_t size);
// The HBONE CONNECT request decision (headers -> verdict) and SPIFFE id parsing.
int hboneConnectEntry(const uint8_t* data, size_t size);
// A request's JWT through the jwt/ library as the waypoint calls it, with a fixed JWKS.
int jwtEntry(const uint8_t* data, size_t size);
// The telemetry ports' HTTP/1.1 request parser (15000/15020/15021), small limits.
int telemetryHttpEntry(const uint8_t* data, size_t size);
// A peer's DER leaf certificate through identity::peerIdentity (URI SAN -> SPIFFE id).
int certSanEntry(const uint8_t* data, size_t size);
// The tunnel's HBONE server (hbone/h2_connection, server role) over a transport in
// memory instead of TLS, fed a client's bytes with or without the preface, with a
// fake host that judges and "dials" each CONNECT.
int hboneServerEntry(const uint8_t* data, size_t size);
// The agent's ZDS requests as the tunnel applies them (tunnel/inpod/zds_requests),
// one message after another with fds attached, to a fake workload handler.
int zdsRequestEntry(const uint8_t* data, size_t size);
// What a tunnel answers the agent on ZDS (hello, acks) through the agent's decoder
// (agent/zds/tunnel_message), one connection's messages in order.
int zdsAckEntry(const uint8_t* data, size_t size);

}  // namespace warren::fuzz
