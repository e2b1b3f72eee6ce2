#pragma once
// A fixed-capacity byte buffer for one direction of a stream: bytes are appended at
// the tail and taken from the head. Storage is allocated on first use and freed by
// release(), so idle streams cost no buffer memory; on an event loop it comes from
// and goes back to the loop's BufferPool (buffer_pool.h), so a buffer drained and
// filled again under load keeps its pages.

#include <cstddef>
#include <cstring>
#include <memory>

#include "io/buffer_pool.h"

namespace warren::io {

class ByteBuffer {
 public:
  explicit ByteBuffer(size_t capacity) : capacity_(capacity) {}

  size_t pending() const { return tail_ - head_; }
  size_t allocatedBytes() const { return data_ ? capacity_ : 0; }  // the storage held now
  size_t room() const { return capacity_ - pending(); }
  const char* readPtr() const { return data_.get() + head_; }

  // Contiguous space at the tail, compacting first when the head has advanced.
  char* writePtr() {
    if (!data_)
      data_ = Storage(BufferPool::allocate(capacity_), Recycle{capacity_});  // not zeroed: written before read
    if (tail_ == capacity_ && head_ > 0) {
      std::memmove(data_.get(), data_.get() + head_, pending());
      tail_ -= head_;
      head_ = 0;
    }
    return data_.get() + tail_;
  }
  size_t writable() const { return data_ ? capacity_ - tail_ + (tail_ == capacity_ ? head_ : 0) : capacity_; }
  void commit(size_t n) { tail_ += n; }
  void consume(size_t n) {
    head_ += n;
    if (head_ == tail_) head_ = tail_ = 0;
  }
  void release() {
    data_.reset();
    head_ = tail_ = 0;
  }

 private:
  struct Recycle {
    size_t bytes;
    void operator()(char* p) const { BufferPool::recycle(p, bytes); }
  };
  using Storage = std::unique_ptr<char[], Recycle>;

  size_t capacity_;
  Storage data_{nullptr, Recycle{0}};
  size_t head_ = 0, tail_ = 0;
};

}  // namespace warren::io
