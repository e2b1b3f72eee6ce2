#include "audit/chain.h"

#include <openssl/evp.h>

#include <chrono>
#include <ctime>

#include "common/json_line.h"

namespace warren::audit {

std::string sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return toHex({reinterpret_cast<const char*>(md), len});
}

ChainHead startChain(std::string_view anchor) { return ChainHead{0, std::string(anchor)}; }

namespace {
// `{"seq":N,"prev":"..","type":"T"` and the fields: a line without its closing brace.
std::string openLine(const ChainHead& head, std::string_view type, std::string_view fields) {
  std::string line;
  line.reserve(96 + fields.size());
  line += "{\"seq\":";
  line += std::to_string(head.seq);
  line += ",\"prev\":";
  appendJsonString(line, head.prev);
  line += ",\"type\":";
  appendJsonString(line, type);
  if (!fields.empty()) {
    line += ',';
    line += fields;
  }
  return line;
}

void advancePast(ChainHead& head, std::string_view line) {
  head.seq++;
  head.prev = sha256Hex(line);
}

constexpr std::string_view kSigKey = ",\"sig\":\"";
}  // namespace

std::string chainLine(ChainHead& head, std::string_view type, std::string_view fields) {
  std::string line = openLine(head, type, fields);
  line += '}';
  advancePast(head, line);
  return line;
}

Result<std::string> checkpointLine(ChainHead& head, std::string_view fields, const SignFn& sign) {
  std::string line = openLine(head, "checkpoint", fields);
  auto sig = sign(line);
  if (!sig) return sig.error();
  line += kSigKey;
  line += toHex(*sig);
  line += "\"}";
  advancePast(head, line);
  return line;
}

bool splitSignature(std::string_view line, std::string_view& signedPart, std::string& der) {
  const size_t at = line.rfind(kSigKey);
  if (at == std::string_view::npos || !line.ends_with("\"}")) return false;
  const size_t from = at + kSigKey.size();
  der = fromHex(line.substr(from, line.size() - 2 - from));
  signedPart = line.substr(0, at);
  return !der.empty();
}

std::string_view recordTypeName(RecordType t) {
  switch (t) {
    case RecordType::Conn: return "conn";
    case RecordType::Request: return "request";
    case RecordType::Cert: return "cert";
    case RecordType::Capture: return "capture";
  }
  return "conn";
}

std::string headerFields(std::string_view node, uint64_t fileSeq, std::string_view time) {
  std::string f = "\"node\":";
  appendJsonString(f, node);
  f += ",\"file_seq\":" + std::to_string(fileSeq) + ",\"time\":";
  appendJsonString(f, time);
  f += ",\"format\":1";
  return f;
}

std::string checkpointFields(uint64_t records, bool final, std::string_view time) {
  std::string f = "\"records\":" + std::to_string(records) + ",\"final\":" + (final ? "true" : "false") + ",\"time\":";
  appendJsonString(f, time);
  return f;
}

std::string gapFields(uint64_t dropped, std::string_view reason, std::string_view time) {
  std::string f = "\"dropped\":" + std::to_string(dropped) + ",\"reason\":";
  appendJsonString(f, reason);
  f += ",\"time\":";
  appendJsonString(f, time);
  return f;
}

std::string utcTimestamp(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string toHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string fromHex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2) return {};
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return {};
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

}  // namespace warren::audit
