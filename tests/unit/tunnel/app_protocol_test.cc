#include "state/app_protocol.h"

#include <gtest/gtest.h>

namespace warren::state {
namespace {

struct Case {
  const char* appProtocol;
  const char* portName;
  AppProtocol want;
};

TEST(AppProtocol, AppProtocolFieldFirstThenNamePrefix) {
  const Case cases[] = {
      {"", "", AppProtocol::Unknown},
      {"", "web", AppProtocol::Unknown},
      {"", "http", AppProtocol::Http11},
      {"", "http-api", AppProtocol::Http11},
      {"", "HTTP-Api", AppProtocol::Http11},
      {"", "http2", AppProtocol::Http2},
      {"", "http2-internal", AppProtocol::Http2},
      {"", "grpc", AppProtocol::Grpc},
      {"", "grpc-ledger", AppProtocol::Grpc},
      {"", "grpc-web", AppProtocol::Grpc},
      {"", "grpcx", AppProtocol::Unknown},  // a prefix only up to '-'
      {"", "tcp-db", AppProtocol::Tcp},
      {"", "mysql", AppProtocol::Tcp},
      {"", "https", AppProtocol::Tls},
      {"", "tls-passthrough", AppProtocol::Tls},
      {"grpc", "http", AppProtocol::Grpc},  // appProtocol wins over the name
      {"GRPC", "", AppProtocol::Grpc},
      {"http", "grpc", AppProtocol::Http11},
      {"kubernetes.io/h2c", "web", AppProtocol::Http2},
      {"h2c", "", AppProtocol::Http2},
      {"kubernetes.io/ws", "", AppProtocol::Http11},
      {"http2", "", AppProtocol::Http2},
      {"example.com/custom", "grpc", AppProtocol::Unknown},  // set but unknown: not the name's
  };
  for (const auto& c : cases)
    EXPECT_EQ(appProtocolOf(c.appProtocol, c.portName), c.want)
        << "appProtocol '" << c.appProtocol << "', name '" << c.portName << "'";
}

TEST(AppProtocol, UpstreamHttpVersion) {
  // Declared HTTP/2 and gRPC ports get HTTP/2 whatever the client spoke (trailers
  // need it); declared HTTP gets HTTP/1.1; anything else follows the client.
  EXPECT_TRUE(upstreamSpeaksHttp2(AppProtocol::Grpc, false));
  EXPECT_TRUE(upstreamSpeaksHttp2(AppProtocol::Http2, false));
  EXPECT_FALSE(upstreamSpeaksHttp2(AppProtocol::Http11, true));
  EXPECT_TRUE(upstreamSpeaksHttp2(AppProtocol::Unknown, true));
  EXPECT_FALSE(upstreamSpeaksHttp2(AppProtocol::Unknown, false));
  EXPECT_FALSE(upstreamSpeaksHttp2(AppProtocol::Tcp, false));
}

TEST(AppProtocol, Names) {
  EXPECT_EQ(appProtocolName(AppProtocol::Grpc), "grpc");
  EXPECT_EQ(appProtocolName(AppProtocol::Http11), "http");
  EXPECT_EQ(appProtocolName(AppProtocol::Unknown), "");
}

}  // namespace
}  // namespace warren::state
