// ConnectionSlots without sockets: the total and per-source caps, and which address
// counts as the same source.

#include "io/connection_slots.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

namespace warren::io {
namespace {

sockaddr_storage peer(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  if (inet_pton(AF_INET, ip, &reinterpret_cast<sockaddr_in&>(ss).sin_addr) == 1) {
    auto& a = reinterpret_cast<sockaddr_in&>(ss);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
  } else {
    auto& a = reinterpret_cast<sockaddr_in6&>(ss);
    EXPECT_EQ(inet_pton(AF_INET6, ip, &a.sin6_addr), 1) << ip;
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
  }
  return ss;
}

TEST(ConnectionSlots, OneSourceGetsItsCapAndNoMore) {
  ConnectionSlots slots(16, 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(slots.take("a"), Admission::kAdmitted) << i;
  EXPECT_EQ(slots.take("a"), Admission::kSourceFull);
  EXPECT_EQ(slots.take("b"), Admission::kAdmitted);  // another source is not affected
  EXPECT_EQ(slots.open(), 9u);
  EXPECT_EQ(slots.openFrom("a"), 8u);
  slots.release("a");
  EXPECT_EQ(slots.take("a"), Admission::kAdmitted);  // a freed slot is the source's again
}

TEST(ConnectionSlots, TheTotalCapHoldsAcrossSources) {
  ConnectionSlots slots(4, 2);
  for (const char* s : {"a", "a", "b", "b"}) EXPECT_EQ(slots.take(s), Admission::kAdmitted);
  EXPECT_EQ(slots.take("c"), Admission::kServerFull);
  EXPECT_EQ(slots.take("a"), Admission::kServerFull);
  slots.release("b");
  EXPECT_EQ(slots.take("c"), Admission::kAdmitted);
}

TEST(ConnectionSlots, ZeroOrALargePerSourceCapMeansTheTotalOnly) {
  for (size_t perSource : {size_t{0}, size_t{1000}}) {
    ConnectionSlots slots(3, perSource);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(slots.take("a"), Admission::kAdmitted);
    EXPECT_EQ(slots.take("a"), Admission::kServerFull);
  }
}

TEST(ConnectionSlots, ReleasingAnUnknownSourceChangesNothing) {
  ConnectionSlots slots(2, 1);
  ASSERT_EQ(slots.take("a"), Admission::kAdmitted);
  slots.release("nobody");
  EXPECT_EQ(slots.open(), 1u);
  slots.release("a");
  EXPECT_EQ(slots.open(), 0u);
  EXPECT_EQ(slots.openFrom("a"), 0u);
}

TEST(ConnectionSlots, ASourceIsItsAddressWhateverThePortOrMapping) {
  EXPECT_EQ(sourceKey(peer("10.0.0.1", 1000)), sourceKey(peer("10.0.0.1", 2000)));
  EXPECT_NE(sourceKey(peer("10.0.0.1", 1000)), sourceKey(peer("10.0.0.2", 1000)));
  EXPECT_EQ(sourceKey(peer("::ffff:10.0.0.1", 1)), sourceKey(peer("10.0.0.1", 2)));  // dual-stack listener
  EXPECT_EQ(sourceKey(peer("fd00::1", 1)), sourceKey(peer("fd00::1", 2)));
  EXPECT_NE(sourceKey(peer("fd00::1", 1)), sourceKey(peer("fd00::2", 1)));
  EXPECT_EQ(std::string(admissionName(Admission::kSourceFull)), "source_full");
}

TEST(ConnectionSlots, AZeroTotalFlagMeansHalfTheFileLimitAndNeverNone) {
  EXPECT_EQ(totalCap(0, 1048576), 524288u);
  EXPECT_EQ(totalCap(100, 1048576), 100u);
  EXPECT_EQ(totalCap(0, 1), 1u);  // ConnectionSlots(0, ...) would refuse everyone
  EXPECT_EQ(totalCap(0, 0), 1u);
  EXPECT_EQ(totalCap(0, 1048576, 4), 262144u);
}

TEST(ConnectionSlots, ALeaseHoldsItsSlotUntilItsLastCopyGoes) {
  auto slots = std::make_shared<ConnectionSlots>(4, 2);
  auto first = takeLease(slots, "pod-a");
  ASSERT_EQ(first.admission, Admission::kAdmitted);
  SlotLease copy = first.lease;                                          // a second record of the same connection
  ASSERT_EQ(takeLease(slots, "pod-a").admission, Admission::kAdmitted);  // released at once: not kept
  EXPECT_EQ(slots->openFrom("pod-a"), 1u);
  auto second = takeLease(slots, "pod-a");
  auto third = takeLease(slots, "pod-a");
  EXPECT_EQ(third.admission, Admission::kSourceFull);
  EXPECT_FALSE(third.lease);
  first.lease.reset();
  EXPECT_EQ(slots->openFrom("pod-a"), 2u);
  copy.reset();
  EXPECT_EQ(slots->openFrom("pod-a"), 1u);
  EXPECT_EQ(takeLease(slots, "pod-a").admission, Admission::kAdmitted);
}

}  // namespace
}  // namespace warren::io
