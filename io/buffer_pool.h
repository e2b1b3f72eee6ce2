#pragma once
// Spare data-path buffers (a stream's or a TLS connection's 256 KiB), kept for
// reuse by the event loop that freed them.
//
// Why: every buffer is given back as soon as it is drained, so that an idle open
// connection holds none (10,000 held connections would otherwise pin a touched page
// each). Under bulk traffic on several streams that meant a free and a malloc of
// 256 KiB per buffer and burst; glibc trims the freed top of the thread's arena
// with madvise(MADV_DONTNEED) and the next malloc faults the pages back in, zeroed:
// 22% of the sending tunnel's CPU with 8 iperf3 streams (perf, 2026-12-07). Kept
// here, a drained buffer is the next one taken, with its pages still mapped.
//
// Bounded twice: at most maxKept buffers, and decay() frees those no take() needed
// since the previous decay() (the fewest the pool held in between), so an idle
// loop returns them all within two periods (EventLoop calls it once a second while
// the pool holds any).
//
// One thread only: the event loop installs its pool for the thread while it runs
// (Use), and ByteBuffer takes and gives through current(). Storage is plain
// new char[] either way, so a buffer freed where no pool of its size is installed
// (after the loop stopped, on another thread) is simply deleted.

#include <cstddef>
#include <vector>

namespace warren::io {

class BufferPool {
 public:
  BufferPool(size_t bufferBytes, size_t maxKept) : bufferBytes_(bufferBytes), maxKept_(maxKept) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  size_t bufferBytes() const { return bufferBytes_; }
  size_t kept() const { return free_.size(); }

  // A buffer of bufferBytes(), contents unspecified: a kept one when there is one.
  char* take();
  // Keeps buf (of bufferBytes(), from new char[]) for the next take(), or deletes it
  // when maxKept are kept already.
  void give(char* buf);
  // Deletes the buffers that stayed kept since the previous call; returns how many.
  size_t decay();

  // The pool installed on this thread, or nullptr.
  static BufferPool* current();
  // Installs a pool on this thread for its lifetime (the previous one after).
  class Use {
   public:
    explicit Use(BufferPool& pool);
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    BufferPool* previous_;
  };

  // Storage of `bytes` for a ByteBuffer: from the current pool when its size
  // matches, else new char[].
  static char* allocate(size_t bytes);
  // The inverse of allocate(): to the current pool when its size matches, else delete[].
  static void recycle(char* buf, size_t bytes);

 private:
  static BufferPool* currentFor(size_t bytes);  // the current pool if its buffers are `bytes`

  size_t bufferBytes_;
  size_t maxKept_;
  std::vector<char*> free_;
  size_t lowWater_ = 0;  // fewest kept since the last decay()
};

}  // namespace warren::io
