#pragma once
// One request judged end to end, for both HTTP sessions: authentication (which may
// have to wait for a JWKS fetch), then planRequest. The sessions stop reading the
// request while a judgement is pending.

#include <functional>

#include "waypoint/http1/http1_parser.h"
#include "waypoint/proxy/request_plan.h"
#include "waypoint/proxy/session_host.h"

namespace warren::waypoint {

// Calls `judged(plan, head)` exactly once unless the session goes away first:
// inside this call when the keys are at hand (the common case; returns true), or
// later on the loop after a JWKS fetch (returns false; `head` is then a copy).
// `alive` is asked before a late call.
bool judgeRequest(SessionHost& host, const StreamFacts& stream, const http1::MessageHead& head,
                  std::function<void(RequestPlan, const http1::MessageHead&)> judged, std::function<bool()> alive);

}  // namespace warren::waypoint
