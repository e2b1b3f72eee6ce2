#pragma once
// A watch answer's body, once HTTP framing (chunked) is removed, is one JSON
// object per line: {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}.
// Chunk boundaries fall anywhere (inside an event, or between several), so lines
// are cut from the bytes as they come.

#include <functional>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "common/result.h"

namespace warren::source::kube {

class LineSplitter {
 public:
  using LineSink = std::function<Status(std::string_view line)>;
  // A line longer than maxLine is an error (a runaway stream must not eat memory);
  // objects are at most 1.5 MiB in etcd by default.
  explicit LineSplitter(size_t maxLine = 16u << 20) : maxLine_(maxLine) {}

  // Calls onLine for every line completed by these bytes (without its '\n' or a
  // '\r' before it; blank lines skipped), in order; stops at the first error.
  Status feed(std::string_view bytes, const LineSink& onLine);
  // Bytes of an unfinished line are held: the stream ended mid-event if so.
  bool midLine() const { return !partial_.empty(); }

 private:
  size_t maxLine_;
  std::string partial_;
};

struct WatchEvent {
  enum class Type { Added, Modified, Deleted, Bookmark, Error };
  Type type = Type::Added;
  YAML::Node object;            // the object (a Status for Error)
  std::string resourceVersion;  // object.metadata.resourceVersion
  int code = 0;                 // Error: the Status's code (410: the resourceVersion is too old)
  std::string message;          // Error: the Status's message
};

// One line of a watch stream; a line that is not a well-formed event is an error.
Result<WatchEvent> parseWatchEvent(std::string_view line);

}  // namespace warren::source::kube
