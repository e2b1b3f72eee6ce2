#include "waypoint/proxy/grpc_reply.h"

#include <gtest/gtest.h>

namespace warren::waypoint {
namespace {

TEST(GrpcReply, HttpStatusesMapAsGrpcDocumentsThem) {
  const std::pair<int, int> cases[] = {{400, 13}, {401, 16}, {403, 7},  {404, 12}, {429, 14},
                                       {502, 14}, {503, 14}, {504, 14}, {431, 2},  {500, 2}};
  for (auto [http, grpc] : cases) EXPECT_EQ(grpcStatusForHttp(http), grpc) << http;
}

TEST(GrpcReply, MessageIsPercentEncodedOutsidePrintableAscii) {
  EXPECT_EQ(grpcMessageEncode("RBAC: access denied"), "RBAC: access denied");
  EXPECT_EQ(grpcMessageEncode("100% sure\r\n"), "100%25 sure%0D%0A");
  EXPECT_EQ(grpcMessageEncode("caf\xc3\xa9"), "caf%C3%A9");
}

TEST(GrpcReply, ATrailersOnlyDenial) {
  EXPECT_EQ(grpcLocalReplyFields(403, "RBAC: access denied"),
            (http1::HeaderList{
                {"content-type", "application/grpc"}, {"grpc-status", "7"}, {"grpc-message", "RBAC: access denied"}}));
}

TEST(GrpcReply, StatusIsReadOnlyWhenValid) {
  EXPECT_EQ(grpcStatusIn({{"grpc-status", "0"}}), 0);
  EXPECT_EQ(grpcStatusIn({{"x", "y"}, {"grpc-status", "14"}}), 14);
  EXPECT_EQ(grpcStatusIn({{"grpc-status", "7x"}}), std::nullopt);
  EXPECT_EQ(grpcStatusIn({{"grpc-status", "-1"}}), std::nullopt);
  EXPECT_EQ(grpcStatusIn({{"grpc-message", "ok"}}), std::nullopt);
}

}  // namespace
}  // namespace warren::waypoint
