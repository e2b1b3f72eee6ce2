#pragma once
// One JSON object written straight into a string, for the access logs: a line per
// connection or request is on the data path, where building an nlohmann::json tree
// (a std::map node and a string per field, then a sorted dump) cost about a tenth
// of the waypoint's CPU per request. Fields keep the order they are written in.
// Strings are escaped as nlohmann::json's dump() escapes them, with ill-formed
// UTF-8 replaced by U+FFFD (its error_handler_t::replace): client bytes never make
// a line invalid.

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>
#include <vector>

namespace warren {

// Appends `value` as a JSON string literal, quotes included.
void appendJsonString(std::string& out, std::string_view value);

class JsonLine {
 public:
  JsonLine() {
    out_.reserve(512);
    out_ += '{';
  }

  JsonLine& field(std::string_view key, std::string_view value) {
    appendKey(key);
    appendJsonString(out_, value);
    return *this;
  }
  JsonLine& field(std::string_view key, const char* value) { return field(key, std::string_view(value)); }
  JsonLine& field(std::string_view key, const std::string& value) { return field(key, std::string_view(value)); }
  JsonLine& field(std::string_view key, const std::vector<std::string>& values) {
    appendKey(key);
    out_ += '[';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) out_ += ',';
      appendJsonString(out_, values[i]);
    }
    out_ += ']';
    return *this;
  }
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>) JsonLine& field(std::string_view key, T value) {
    appendKey(key);
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
    out_.append(buf, end);
    return *this;
  }

  // The object, closed. The writer is spent afterwards.
  std::string finish() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void appendKey(std::string_view key) {
    if (out_.size() > 1) out_ += ',';
    appendJsonString(out_, key);
    out_ += ':';
  }

  std::string out_;
};

}  // namespace warren
