// Not a test of Warren: the proof that the thread census (tests/support/
// thread_census.cc) fails a run that starts a thread in an executable not declared
// STARTS_THREADS. This executable starts one and is not declared;
// tests/unit/common/CMakeLists.txt passes it only if the census's failure shows.

#include <thread>

#include <gtest/gtest.h>

TEST(ThreadCensusProbe, StartsAThreadWithoutDeclaringIt) {
  bool ran = false;
  std::thread([&ran] { ran = true; }).join();
  EXPECT_TRUE(ran);
}
