#pragma once
// accept(2) for the loops' listeners, safe when the process runs out of file
// descriptors. On EMFILE/ENFILE a plain accept leaves the connection queued, so a
// level-triggered listener stays readable and the loop spins a whole core while
// every other connection waits (found by flooding a pod's 15008 past the fd
// limit). Here the queued connection is taken with a spare descriptor kept for
// the purpose and closed at once with a reset: the client learns immediately,
// the loop goes quiet, and the shed connection is counted.

#include <cstdint>

#include "common/unique_fd.h"

namespace warren::io {

enum class AcceptOutcome {
  Accepted,    // fd holds the connection
  WouldBlock,  // nothing queued (or the client gave up first): wait for readability
  Shed,        // out of descriptors: one queued connection was reset and dropped
  Failed,      // any other error (see errno): stop this batch
};

struct Accepted {
  AcceptOutcome outcome = AcceptOutcome::Failed;
  UniqueFd fd;
};

// One non-blocking, close-on-exec accept on `listener`.
Accepted acceptOrShed(int listener);

// Opens the spare descriptor now (acceptOrShed otherwise does at its first
// call): a daemon calls it at start, so its descriptor count is steady from then on.
void reserveAcceptSpare();

// Connections shed since the process started (for a metric).
uint64_t shedConnections();

// Raises RLIMIT_NOFILE's soft limit to its hard limit (1024 by default is far
// too few for a node's tunnel). Returns the soft limit now in force.
uint64_t raiseFileLimit();

// The process's open descriptors now (entries of /proc/self/fd; 0 if unreadable)
// and its soft RLIMIT_NOFILE. Costs a directory read: sample, do not call per packet.
uint64_t openFileCount();
uint64_t fileLimit();

}  // namespace warren::io
