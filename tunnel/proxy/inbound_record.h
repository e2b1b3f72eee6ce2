#pragma once
// The inbound side's decisions about a connection's record and answer, without
// sockets: what a CONNECT stream to a pod is answered (400 / 401 / 200), how its
// access-log record is built and completed, and what an authorization decision
// writes into the record. inbound_hbone.cc and inbound_plaintext.cc do the I/O.

#include <optional>
#include <string>

#include "authz/authorize.h"
#include "hbone/connect_request.h"
#include "hbone/h2_connection.h"
#include "identity/identity.h"
#include "state/cluster_state.h"
#include "tunnel/proxy/access_log.h"

namespace warren::proxy {

// The answer to a CONNECT stream, before the app is dialed. 503 (the app cannot
// be reached) comes later, from the connect attempt.
struct ConnectAnswer {
  int status = 200;       // 200: dial the app; 400: bad request; 401: denied by policy
  std::string endReason;  // for the record when refused: "refused with 401: <why>"
};
// `decision`: the authorization of a request whose verdict was 200 (nullptr otherwise).
ConnectAnswer answerConnect(const hbone::RequestVerdict& verdict, const authz::Decision* decision);

// The record of a CONNECT stream as it arrives: the client is the `forwarded`
// address when the peer sent one, else the connection's peer label.
ConnectionRecord inboundHboneRecord(const std::string& pod, const hbone::Headers& request,
                                    const hbone::RequestVerdict& verdict, const std::string& peerLabel,
                                    const std::optional<identity::SpiffeId>& peerIdentity,
                                    const std::string& dstIdentity);
// The record of a plaintext connection captured inbound (no identity).
ConnectionRecord inboundPlaintextRecord(const std::string& pod, const std::string& src, const std::string& dst,
                                        const std::string& dstIdentity);

// What the decision on `facts` to workload `dst` writes into the record: both
// workloads, the service guessed from the port, the verdict, the deciding policy,
// AUDIT and dry-run lines; "DENY" as response_flags when refused.
void recordAuthorization(ConnectionRecord& rec, const state::ClusterState& st, const state::Workload& dst,
                         const std::string& podName, const authz::ConnectionFacts& facts, const authz::Decision& d);

// A stream's end: bytes both ways, duration, status, why it ended; a 503 is
// response_flags "CONNECT" (the app could not be reached). `endReason`, when not
// empty, replaces the stream's own (a refusal says why it was refused).
void recordStreamEnd(ConnectionRecord& rec, const hbone::StreamStats& stats, const std::string& endReason = "");

}  // namespace warren::proxy
