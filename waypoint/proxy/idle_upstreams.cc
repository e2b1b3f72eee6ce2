#include "waypoint/proxy/idle_upstreams.h"

#include <sys/epoll.h>

#include <iterator>
#include <utility>

namespace warren::waypoint {

void IdleUpstreams::keep(std::string key, io::ByteStreamPtr up) {
  if (max_ == 0 || !up) return;
  if (idle_.size() >= max_) {
    idle_.front().up->unwatch();
    idle_.erase(idle_.begin());
  }
  const io::ByteStream* raw = up.get();
  // `this` outlives the callback: the stream is ours, unwatched before it goes.
  if (!up->watch(EPOLLIN, [this, raw](uint32_t) { drop(raw); })) return;
  idle_.push_back({std::move(key), std::move(up)});
}

io::ByteStreamPtr IdleUpstreams::take(const std::string& key) {
  for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
    if (it->key != key) continue;
    it->up->unwatch();
    io::ByteStreamPtr up = std::move(it->up);
    idle_.erase(std::next(it).base());
    return up;
  }
  return io::ByteStreamPtr();
}

void IdleUpstreams::clear() {
  for (auto& i : idle_) i.up->unwatch();
  idle_.clear();
}

void IdleUpstreams::drop(const io::ByteStream* up) {
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    if (it->up.get() != up) continue;
    it->up->unwatch();
    idle_.erase(it);
    return;
  }
}

}  // namespace warren::waypoint
