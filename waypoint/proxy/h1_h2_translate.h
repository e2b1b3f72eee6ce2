#pragma once
// Translating messages between HTTP/1.1 and HTTP/2 at the waypoint, as both
// downstream sessions need it: an HTTP/2 client's requests going to an HTTP/2
// upstream (h2_session.cc), and an HTTP/1.1 client's requests going to a port
// declared http2 or grpc, whose response comes back as HTTP/1.1
// (http1_session.cc), as Envoy upgrades the upstream side for such ports. Pure
// functions, tested without sockets (tests/unit/waypoint/h1_h2_translate_test.cc).

#include <string>
#include <string_view>

#include "waypoint/http1/http1_parser.h"

namespace warren::waypoint {

// Connection-specific fields (RFC 9113 8.2.2), never in an HTTP/2 message and
// hop-by-hop in HTTP/1.1 (RFC 9110 7.6.1): connection, keep-alive,
// proxy-connection, transfer-encoding, upgrade, te (sent again as "te: trailers"
// where it may be), trailer, and every name `fields`' Connection header lists.
// `name` is lower-case.
bool connectionSpecific(std::string_view name, const http1::HeaderList& fields);

// The TE header lists "trailers" (RFC 9110 10.1.4): the client takes trailers
// (gRPC servers also want to see it).
bool acceptsTrailers(const http1::HeaderList& fields);

// The pseudo-headers and fields of the HTTP/2 request sent upstream for `head` (as
// upstreamHead() made it): connection-specific fields and Host left out, the
// authority as :authority, "te: trailers" when `teTrailers`.
struct H2UpstreamRequest {
  http1::HeaderList pseudo, fields;
};
H2UpstreamRequest h2UpstreamRequest(const http1::MessageHead& head, bool teTrailers);

// The same for an HTTP/1.1 client's request: "te: trailers" when its TE lists
// trailers, and "expect: 100-continue" left out (the waypoint answers it itself,
// as Envoy does; HTTP/2 flow control is what holds a body back upstream).
H2UpstreamRequest h2RequestForHttp1(const http1::MessageHead& head);

// The HTTP/1.1 client asked "Expect: 100-continue" for a body it holds back.
bool expectsContinue(const http1::MessageHead& head);

// The HTTP/1.1 response an HTTP/1.1 client gets for an HTTP/2 upstream's final
// response head (`fields`: regular fields, lower-case). `endStream`: the HEADERS
// frame ended the response (no body, no trailers). `keepAlive`: the connection
// is meant to stay open after it. The head says how the connection goes on, as
// Envoy's does: "connection: close" when it will close (RFC 9112 9.6), and
// "connection: keep-alive" to an HTTP/1.0 client it stays open for (HTTP/1.0
// closes unless told otherwise).
struct Http1ResponseHead {
  std::string head;             // status line through the empty line
  bool bodyless = false;        // nothing may follow (HEAD, 1xx, 204, 304)
  bool chunked = false;         // no content-length from the upstream: DATA goes out as chunks
  bool closeDelimited = false;  // ... to an HTTP/1.0 client: the body ends with the connection
};
Http1ResponseHead http1ResponseHead(int status, const http1::HeaderList& fields, bool endStream, bool headRequest,
                                    bool http10Client, bool keepAlive);

// The HTTP/1.1 response a client gets for an HTTP/1.1 upstream's final response
// head, relayed. The request went upstream as HTTP/1.1, so the upstream may answer
// chunked; an HTTP/1.0 client knows no chunks (RFC 9112 7.1: a server must not
// send them to it), so it gets the body unchunked, ended by the connection's close
// (trailers are dropped), as Envoy does. A body framed by neither length nor
// chunks ends with the connection too. `keepAlive` and the connection field as
// for http1ResponseHead.
Http1ResponseHead relayedHttp1ResponseHead(const http1::MessageHead& upstream, bool headRequest, bool http10Client,
                                           bool keepAlive);

// The trailer fields a hop passes on, either way and in either protocol (as Envoy,
// RFC 9110 6.5.1): pseudo-headers, connection-specific fields (above), framing
// (content-length, transfer-encoding) and routing (host) fields left out. An
// HTTP/2 peer would fail the stream on the connection-specific ones.
http1::HeaderList forwardableTrailers(const http1::HeaderList& trailers);

// The end of a chunked body: the last chunk, with the forwardable trailers. To
// servers and clients alike, whether or not a client sent "TE: trailers", as
// Envoy's HTTP/1 codec sends them (with trailers enabled) wherever the body is
// chunked: RFC 9110 6.5.1 makes TE: trailers a client's promise to take them, not a
// condition of sending, and every HTTP/1.1 recipient parses a trailer section
// (RFC 9112 7.1.2, free to discard what it does not use).
std::string lastChunkWithTrailers(const http1::HeaderList& trailers);

}  // namespace warren::waypoint
