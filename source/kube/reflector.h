#pragma once
// The list-and-watch protocol of one resource (client-go's reflector) as a pure
// function: what happened to the last request, and the state, decide the next
// request and how long to wait first. The I/O (kube_source.cc) only acts on it.
//
//   start ──▶ LIST (pages) ──ok, rv──▶ WATCH from rv ──events move rv──┐
//               ▲   │                    │  ▲                          │
//               │   └─error: backoff─┐   │  └─ended / dropped: again ──┘
//               │                    ▼   │
//               └── 410 Gone ◀──── (error: backoff, then WATCH from rv again)

#include <chrono>
#include <string>
#include <vector>

namespace warren::source::kube {

struct BackoffPolicy {
  std::chrono::milliseconds initial{800};  // client-go's reflector starts at 800 ms
  std::chrono::milliseconds cap{30000};
  // How often a resource the server does not serve (a CRD not installed yet) is
  // asked for again, so one installed later is picked up.
  std::chrono::milliseconds notServedRetry{60000};
  // How long the requests stay on an older version (v1beta1) before the preferred
  // one is asked for again, at the next normal end of a watch: a cluster whose
  // Istio was upgraded (and may drop v1beta1 later) is then read as v1.
  std::chrono::milliseconds preferredRecheck{600000};
};

struct ReflectorState {
  std::string resourceVersion;  // where a watch resumes; "" until a list succeeded
  int failures = 0;             // consecutive failed requests: the backoff grows with them
  // Which of the resource's versions (versionsOf) the requests use: the first
  // one the server served, kept until it stops serving it.
  size_t version = 0;
  // Time spent watching at an older version since it was listed there.
  std::chrono::milliseconds onOlderVersionFor{0};
};

// How the last request ended.
struct Outcome {
  enum class Kind {
    Listed,          // every page of a list arrived; resourceVersion = the list's
    WatchEnded,      // the server ended the watch cleanly (timeoutSeconds), or a
                     // bookmark/event stream simply closed after progress
    WatchDropped,    // the stream broke (reset, EOF mid-event, read timeout)
    Gone,            // 410 (HTTP status or an ERROR event): resourceVersion too old
    HttpError,       // any other status (401, 403, 429, 5xx) or ERROR event
    TransportError,  // no answer: DNS, connect, TLS, malformed HTTP
    NotServed,       // a list answered 404 for an optional resource (a CRD not
                     // installed, or not at this version): not a failure
  };
  Kind kind = Kind::TransportError;
  std::string resourceVersion;          // Listed: the list's; a watch: the last one it delivered ("" if none)
  bool progressed = false;              // a watch delivered at least one event
  int status = 0;                       // HttpError/Gone: the code
  std::string message;                  // what the API (its Status.message) or the transport said
  std::chrono::milliseconds lasted{0};  // how long the request ran
};

// A watch that ends sooner than this without an event is a failure (client-go's
// "very short watch"): a proxy that closes every stream at once would otherwise
// be asked again in a tight loop.
inline constexpr std::chrono::milliseconds kShortestNormalWatch{1000};

struct Action {
  enum class Next { List, Watch };
  Next next = Next::List;
  std::string resourceVersion;         // Watch: resume from here
  std::chrono::milliseconds delay{0};  // wait this long first
  std::string why;                     // for the log; "" when the step is routine
  bool warn = false;                   // the why is a problem worth a warning
  size_t version = 0;                  // ask at this index of the resource's versions
  // No version of the resource is served: its view is now empty (an empty
  // kind, not an error). Never set while an older version is still to try, so
  // a v1beta1-only cluster's policies never vanish for a moment.
  bool noneServed = false;
};

struct Step {
  ReflectorState state;
  Action action;
};

// The first request: a list.
Action initialAction();

// jitter01 in [0, 1) spreads agents that failed together (an API restart) so
// they do not all come back at once; tests pass fixed values. versions: the
// resource's (versionsOf; empty means one): a list answered 404 tries the next
// at once; when none is served, the periodic re-ask starts again at the first,
// so a cluster upgraded to serve v1 is read as v1 from then on. A watch that
// answers 404 (the version went away while watched) lists from the first again.
// Watching at an older version for policy.preferredRecheck, the next watch that
// ends normally is followed by a list at the first version (the view is kept
// until a list completes, so it never empties for the probe).
Step decide(const ReflectorState& state, const Outcome& outcome, Action::Next last, const BackoffPolicy& policy,
            double jitter01, const std::vector<std::string>& versions = {});

// The wait before the n-th consecutive retry (n >= 1): initial·2^(n-1), capped,
// then scaled into [½, 1] of itself by the jitter.
std::chrono::milliseconds backoffDelay(int failures, const BackoffPolicy& policy, double jitter01);

}  // namespace warren::source::kube
