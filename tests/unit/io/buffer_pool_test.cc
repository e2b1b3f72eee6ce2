// BufferPool: a drained buffer is the next one taken (its pages stay mapped), the
// pool is bounded, and an idle loop gives every spare buffer back.

#include "io/buffer_pool.h"

#include <gtest/gtest.h>

#include <chrono>

#include "io/byte_buffer.h"
#include "io/event_loop.h"

namespace warren::io {
namespace {

using namespace std::chrono_literals;

TEST(BufferPool, TheBufferGivenLastIsTheNextTaken) {
  BufferPool pool(4096, 4);
  char* a = pool.take();
  char* b = pool.take();
  pool.give(a);
  pool.give(b);
  EXPECT_EQ(pool.kept(), 2u);
  EXPECT_EQ(pool.take(), b);
  EXPECT_EQ(pool.take(), a);
  EXPECT_EQ(pool.kept(), 0u);
  pool.give(a);
  pool.give(b);
}

TEST(BufferPool, KeepsAtMostMaxKept) {
  BufferPool pool(4096, 2);
  char* bufs[3] = {pool.take(), pool.take(), pool.take()};
  for (char* b : bufs) pool.give(b);  // the third is deleted (ASan would see a leak otherwise)
  EXPECT_EQ(pool.kept(), 2u);
}

TEST(BufferPool, DecayFreesOnlyTheBuffersNoTakeNeeded) {
  BufferPool pool(4096, 8);
  char* bufs[3] = {pool.take(), pool.take(), pool.take()};
  for (char* b : bufs) pool.give(b);
  // Given since the last decay, none has been spare for a whole period yet.
  EXPECT_EQ(pool.decay(), 0u);
  EXPECT_EQ(pool.kept(), 3u);
  // One is taken and given back during the period: two stayed spare throughout.
  pool.give(pool.take());
  EXPECT_EQ(pool.decay(), 2u);
  EXPECT_EQ(pool.kept(), 1u);
  EXPECT_EQ(pool.decay(), 1u);
  EXPECT_EQ(pool.kept(), 0u);
}

TEST(BufferPool, AByteBufferOnALoopThreadReusesItsStorage) {
  BufferPool pool(64 << 10, 4);
  ByteBuffer buf(64 << 10);
  char* first;
  {
    BufferPool::Use use(pool);
    first = buf.writePtr();
    buf.commit(100);
    buf.consume(100);
    buf.release();  // drained: back to the pool, not to malloc
    EXPECT_EQ(pool.kept(), 1u);
    EXPECT_EQ(buf.writePtr(), first);
    EXPECT_EQ(pool.kept(), 0u);
    ByteBuffer other(32 << 10);  // another size never touches the pool
    other.writePtr();
    other.release();
    EXPECT_EQ(pool.kept(), 0u);
  }
  EXPECT_EQ(BufferPool::current(), nullptr);
  buf.release();  // no pool installed: deleted
  EXPECT_EQ(pool.kept(), 0u);
}

TEST(BufferPool, AnIdleLoopGivesItsSpareBuffersBack) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error().message;
  EventLoop& l = **loop;
  l.setBufferPoolDecayPeriod(20ms);
  ByteBuffer buf(256 << 10);
  l.post([&] {
    buf.writePtr();
    buf.release();
  });
  const auto start = std::chrono::steady_clock::now();
  l.runOnce(1s);
  ASSERT_EQ(l.bufferPool().kept(), 1u) << "a buffer released on the loop is kept for reuse";
  // The loop wakes for the decay by itself: runOnce returns early for it.
  while (l.bufferPool().kept() > 0 && std::chrono::steady_clock::now() - start < 5s) l.runOnce(1s);
  EXPECT_EQ(l.bufferPool().kept(), 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms) << "freed before it was spare for a period";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "the idle loop did not wake to decay";
}

// Only an ASan build can see it (the CI's ASan suite runs this): a kept buffer is
// poisoned, so a pointer still held into it after its release is caught on use, as
// it would be had the buffer been freed.
#if defined(__SANITIZE_ADDRESS__)
TEST(BufferPoolDeathTest, TouchingAKeptBufferIsCaughtUnderAsan) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  BufferPool pool(4096, 2);
  char* buf = pool.take();
  pool.give(buf);
  EXPECT_DEATH(
      {
        volatile char c = buf[10];
        (void)c;
      },
      "use-after-poison");
  EXPECT_EQ(pool.take(), buf);  // taken again: usable
  buf[10] = 1;
  pool.give(buf);
}
#endif

}  // namespace
}  // namespace warren::io
