#include "io/buffer_pool.h"

#include <algorithm>

// Under ASan a kept buffer is poisoned, so that a pointer still held into a buffer
// after its release is caught on use, as it would be had the buffer been freed.
#if defined(__SANITIZE_ADDRESS__)
#define WARREN_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WARREN_POOL_ASAN 1
#endif
#endif
#ifdef WARREN_POOL_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace warren::io {

namespace {

thread_local BufferPool* tCurrent = nullptr;

void poison([[maybe_unused]] char* buf, [[maybe_unused]] size_t bytes) {
#ifdef WARREN_POOL_ASAN
  ASAN_POISON_MEMORY_REGION(buf, bytes);
#endif
}

void unpoison([[maybe_unused]] char* buf, [[maybe_unused]] size_t bytes) {
#ifdef WARREN_POOL_ASAN
  ASAN_UNPOISON_MEMORY_REGION(buf, bytes);
#endif
}

}  // namespace

BufferPool::~BufferPool() {
  for (char* buf : free_) {
    unpoison(buf, bufferBytes_);
    delete[] buf;
  }
}

char* BufferPool::take() {
  if (free_.empty()) return new char[bufferBytes_];
  char* buf = free_.back();
  free_.pop_back();
  lowWater_ = std::min(lowWater_, free_.size());
  unpoison(buf, bufferBytes_);
  return buf;
}

void BufferPool::give(char* buf) {
  if (free_.size() >= maxKept_) {
    delete[] buf;
    return;
  }
  poison(buf, bufferBytes_);
  free_.push_back(buf);
}

size_t BufferPool::decay() {
  // The most recently given are at the back and are taken first: the ones at the
  // front are those that stayed unused.
  const size_t unused = std::min(lowWater_, free_.size());
  for (size_t i = 0; i < unused; ++i) {
    unpoison(free_[i], bufferBytes_);
    delete[] free_[i];
  }
  free_.erase(free_.begin(), free_.begin() + static_cast<std::ptrdiff_t>(unused));
  lowWater_ = free_.size();
  return unused;
}

BufferPool* BufferPool::current() { return tCurrent; }

BufferPool::Use::Use(BufferPool& pool) : previous_(tCurrent) { tCurrent = &pool; }

BufferPool::Use::~Use() { tCurrent = previous_; }

BufferPool* BufferPool::currentFor(size_t bytes) {
  return tCurrent && tCurrent->bufferBytes_ == bytes ? tCurrent : nullptr;
}

char* BufferPool::allocate(size_t bytes) {
  BufferPool* pool = currentFor(bytes);
  return pool ? pool->take() : new char[bytes];
}

void BufferPool::recycle(char* buf, size_t bytes) {
  if (BufferPool* pool = currentFor(bytes))
    pool->give(buf);
  else
    delete[] buf;
}

}  // namespace warren::io
