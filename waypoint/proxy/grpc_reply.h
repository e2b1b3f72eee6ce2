#pragma once
// gRPC's view of the waypoint's own answers. A gRPC client reads no HTTP status:
// a request the waypoint rejects itself (RBAC, JWT, no route, bad request) is
// answered, as Envoy answers it, with a "trailers-only" response: HTTP 200,
// content-type application/grpc, grpc-status from gRPC's HTTP-to-gRPC mapping
// (403 -> 7 PERMISSION_DENIED, 401 -> 16 UNAUTHENTICATED, 503 -> 14 UNAVAILABLE),
// grpc-message the body Envoy would have sent. Telemetry keeps the HTTP status the
// decision meant (response_code 403) and adds grpc_response_status.

#include <optional>
#include <string>
#include <string_view>

#include "waypoint/http1/http1_parser.h"

namespace warren::waypoint {

// gRPC's mapping (grpc/doc/http-grpc-status-mapping.md), as Envoy's httpToGrpcStatus.
int grpcStatusForHttp(int httpStatus);

// grpc-message's percent-encoding: bytes outside 0x20-0x7E, and '%', as %XX.
std::string grpcMessageEncode(std::string_view message);

// The fields (after :status 200) of a trailers-only answer for `httpStatus`.
http1::HeaderList grpcLocalReplyFields(int httpStatus, std::string_view message);

// grpc-status in a header or trailer block, if there is a valid one.
std::optional<int> grpcStatusIn(const http1::HeaderList& fields);

}  // namespace warren::waypoint
