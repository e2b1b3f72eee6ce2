// The ring-buffer consumer behind `warrenctl trace`. Reading a BPF ring buffer
// advances its consumer position, which lives in the map itself: records one
// consumer read are gone for any other. warren-agent does not read warren_events,
// so a running trace is normally its only reader.
#include "tools/warrenctl/trace.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <ostream>

#include "tools/warrenctl/bpffs.h"
#include "tools/warrenctl/events.h"
#include "tools/warrenctl/pinned.h"

namespace warren::ctl {

namespace {

volatile sig_atomic_t gStop = 0;
void onStopSignal(int) { gStop = 1; }

// Installs the stop handlers for the trace's lifetime and restores the old ones.
// No SA_RESTART: the signal interrupts epoll_wait, so Ctrl-C ends the trace at once.
class StopSignals {
 public:
  StopSignals() {
    gStop = 0;
    struct sigaction sa {};
    sa.sa_handler = onStopSignal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &oldInt_);
    ::sigaction(SIGTERM, &sa, &oldTerm_);
  }
  ~StopSignals() {
    ::sigaction(SIGINT, &oldInt_, nullptr);
    ::sigaction(SIGTERM, &oldTerm_, nullptr);
  }

 private:
  struct sigaction oldInt_ {
  }, oldTerm_{};
};

uint64_t nowNs(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Who a netns cookie is, from warren_enrolled and warren_pod_meta, remembered once
// the agent has written the pod's metadata.
class PodResolver {
 public:
  PodResolver(std::optional<PinnedMap> enrolled, std::optional<PinnedMap> meta)
      : enrolled_(std::move(enrolled)), meta_(std::move(meta)) {}

  const PodView* resolve(uint64_t cookie) {
    if (auto it = known_.find(cookie); it != known_.end()) return &it->second;
    warren_pod pod{};
    warren_pod_meta m{};
    bool havePod = enrolled_ && bpf_map_lookup_elem(enrolled_->fd.get(), &cookie, &pod) == 0;
    bool haveMeta = meta_ && bpf_map_lookup_elem(meta_->fd.get(), &cookie, &m) == 0;
    if (!havePod && !haveMeta) return nullptr;  // released already, or never ours
    PodView v = decodePod(cookie, pod, haveMeta ? &m : nullptr, nullptr);
    if (!haveMeta) {  // ask again next time: the agent may not have written it yet
      scratch_ = v;
      return &scratch_;
    }
    return &known_.emplace(cookie, std::move(v)).first->second;
  }

 private:
  std::optional<PinnedMap> enrolled_, meta_;
  std::map<uint64_t, PodView> known_;
  PodView scratch_;
};

struct TraceState {
  const TraceOptions* options;
  bool json;
  std::ostream* out;
  PodResolver* pods;
  uint64_t startNs;    // CLOCK_MONOTONIC when the trace began
  int64_t monoToUnix;  // CLOCK_REALTIME - CLOCK_MONOTONIC
  uint64_t matched = 0;
};

// Ends a ring_buffer__poll once --count is reached; the records after it stay in
// the ring (libbpf stops consuming where a callback returns < 0).
constexpr int kCountReached = -ECANCELED;

int onEvent(void* ctx, void* data, size_t size) {
  auto* st = static_cast<TraceState*>(ctx);
  if (size < sizeof(warren_event)) return 0;  // not ours to decode
  warren_event e{};
  std::memcpy(&e, data, sizeof(e));
  // What queued up while nobody read the ring is stale (and may be hours old):
  // trace shows what happens from its start on.
  if (e.ts_ns < st->startNs) return 0;
  const PodView* pod = st->pods->resolve(e.netns_cookie);
  if (!eventMatches(*st->options, e, pod)) return 0;
  EventView v = decodeEvent(e, st->monoToUnix, pod);
  if (st->json)
    *st->out << eventJson(v).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
  else
    *st->out << eventLine(v) << '\n';
  st->out->flush();  // a line as it happens, also into a pipe
  ++st->matched;
  return st->options->count && st->matched >= *st->options->count ? kCountReached : 0;
}

struct RingBufferFree {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};

}  // namespace

Status runTrace(const Context& ctx, const StreamOptions& opts, std::ostream& out) {
  auto options = parseTraceOptions(ctx.args);
  if (!options) return options.error();
  const std::string& root = ctx.pinRoot;
  if (auto s = checkPinRoot(root); !s) return s.error();
  auto enrolled = openMap(root, enrolledMap());
  if (!enrolled) return enrolled.error();
  if (!*enrolled) return noObjectsError(root);
  auto meta = openMap(root, podMetaMap());
  if (!meta) return meta.error();

  const std::string path = root + "/" WARREN_MAP_EVENTS;
  auto pin = openPin(path);
  if (!pin) return pin.error();
  if (!*pin) return makeError(std::string(WARREN_MAP_EVENTS) + " is not pinned at " + root);
  const int fd = (*pin)->get();
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (kindOf(fd) != Kind::Map || bpf_obj_get_info_by_fd(fd, &info, &len) != 0 || info.type != BPF_MAP_TYPE_RINGBUF)
    return makeError(path + " is not a ring buffer (warrenctl and warren-agent are from different versions)");

  PodResolver pods(std::move(*enrolled), std::move(*meta));
  TraceState st{&*options,
                opts.json,
                &out,
                &pods,
                nowNs(CLOCK_MONOTONIC),
                static_cast<int64_t>(nowNs(CLOCK_REALTIME)) - static_cast<int64_t>(nowNs(CLOCK_MONOTONIC))};
  errno = 0;
  std::unique_ptr<ring_buffer, RingBufferFree> rb(ring_buffer__new(fd, onEvent, &st, nullptr));
  if (!rb) return osError("read ring buffer " + path, errno ? errno : EINVAL);

  StopSignals signals;
  if (!opts.json) {
    out << eventHeaderLine() << '\n';
    out.flush();
  }
  const auto deadline = options->timeoutMs
                            ? std::chrono::steady_clock::now() + std::chrono::milliseconds(*options->timeoutMs)
                            : std::chrono::steady_clock::time_point::max();
  while (!gStop) {
    // Short polls: a signal that lands between the check and epoll_wait is seen
    // within this bound.
    int wait = 200;
    if (options->timeoutMs) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      wait = static_cast<int>(std::min<int64_t>(wait, left.count()));
    }
    int rc = ring_buffer__poll(rb.get(), wait);
    if (rc == kCountReached) break;
    if (rc < 0 && rc != -EINTR) return osError("poll ring buffer " + path, -rc);
  }
  return okStatus();
}

}  // namespace warren::ctl
