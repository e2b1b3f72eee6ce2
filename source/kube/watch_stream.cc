#include "source/kube/watch_stream.h"

#include "source/yaml_util.h"

namespace warren::source::kube {

Status LineSplitter::feed(std::string_view bytes, const LineSink& onLine) {
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, nl);
    if (partial_.size() + piece.size() > maxLine_)
      return makeError("a watch event longer than " + std::to_string(maxLine_) + " bytes");
    if (nl == std::string_view::npos) {
      partial_.append(piece);
      return okStatus();
    }
    bytes.remove_prefix(nl + 1);
    std::string_view line = piece;
    if (!partial_.empty()) {
      partial_.append(piece);
      line = partial_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Status s = line.empty() ? okStatus() : onLine(line);
    partial_.clear();
    if (!s) return s;
  }
  return okStatus();
}

Result<WatchEvent> parseWatchEvent(std::string_view line) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(line));
  } catch (const YAML::Exception& e) {
    return makeError("malformed watch event: " + e.msg);
  }
  if (!root.IsMap()) return makeError("malformed watch event: not a JSON object");
  WatchEvent ev;
  const std::string type = str(at(root, "type"));
  if (type == "ADDED")
    ev.type = WatchEvent::Type::Added;
  else if (type == "MODIFIED")
    ev.type = WatchEvent::Type::Modified;
  else if (type == "DELETED")
    ev.type = WatchEvent::Type::Deleted;
  else if (type == "BOOKMARK")
    ev.type = WatchEvent::Type::Bookmark;
  else if (type == "ERROR")
    ev.type = WatchEvent::Type::Error;
  else
    return makeError("watch event of unknown type '" + type + "'");
  ev.object = at(root, "object");
  if (!ev.object.IsMap()) return makeError(type + " watch event without an object");
  ev.resourceVersion = str(at(at(ev.object, "metadata"), "resourceVersion"));
  if (ev.type == WatchEvent::Type::Error) {
    try {
      const YAML::Node code = at(ev.object, "code");
      ev.code = code && code.IsScalar() ? code.as<int>() : 0;
    } catch (const YAML::Exception&) {
      ev.code = 0;
    }
    ev.message = str(at(ev.object, "message"));
  } else if (ev.resourceVersion.empty()) {
    // Resuming needs it; an event without one cannot be placed in the stream.
    return makeError(type + " watch event without metadata.resourceVersion");
  }
  return ev;
}

}  // namespace warren::source::kube
