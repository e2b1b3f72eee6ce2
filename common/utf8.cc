#include "common/utf8.h"

namespace warren {
namespace {

struct Lead {
  size_t length = 0;                   // 0: not a lead byte
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
};

Lead leadOf(unsigned char c) {
  if (c < 0x80) return {1};
  if (c >= 0xC2 && c <= 0xDF) return {2};
  if (c == 0xE0) return {3, 0xA0, 0xBF};
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return {3};
  if (c == 0xED) return {3, 0x80, 0x9F};  // no UTF-16 surrogates
  if (c == 0xF0) return {4, 0x90, 0xBF};
  if (c >= 0xF1 && c <= 0xF3) return {4};
  if (c == 0xF4) return {4, 0x80, 0x8F};  // nothing above U+10FFFF
  return {};
}

// How many bytes from s[i] on continue the sequence its lead byte starts.
size_t wellFormedPrefix(std::string_view s, size_t i, const Lead& lead) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  size_t k = 1;
  if (i + k >= s.size() || byte(i + k) < lead.lo || byte(i + k) > lead.hi) return k;
  ++k;
  while (k < lead.length && i + k < s.size() && byte(i + k) >= 0x80 && byte(i + k) <= 0xBF) ++k;
  return k;
}

}  // namespace

size_t utf8SequenceLength(std::string_view s, size_t i) {
  const Lead lead = leadOf(static_cast<unsigned char>(s[i]));
  if (lead.length <= 1) return lead.length;
  return wellFormedPrefix(s, i, lead) == lead.length ? lead.length : 0;
}

size_t utf8MaximalSubpart(std::string_view s, size_t i) {
  const Lead lead = leadOf(static_cast<unsigned char>(s[i]));
  if (lead.length <= 1) return 1;
  return wellFormedPrefix(s, i, lead);
}

}  // namespace warren
