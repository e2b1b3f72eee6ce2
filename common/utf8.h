#pragma once
// UTF-8 well-formedness (Unicode's table 3-7: no overlongs, no surrogates, nothing
// above U+10FFFF), for text that came from clients and is written into logs and
// metrics, where it must be valid UTF-8.

#include <cstddef>
#include <string_view>

namespace warren {

// The length of the well-formed UTF-8 sequence starting at s[i], 0 if there is none.
size_t utf8SequenceLength(std::string_view s, size_t i);

// The length (>= 1) of the ill-formed bytes at s[i] that one U+FFFD replaces:
// Unicode's "maximal subpart" practice, as nlohmann::json's replace mode and the
// WHATWG decoder do. Only meaningful where utf8SequenceLength(s, i) == 0.
size_t utf8MaximalSubpart(std::string_view s, size_t i);

}  // namespace warren
