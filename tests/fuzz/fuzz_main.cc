// libFuzzer's entry for one target: WARREN_FUZZ_ENTRY names the function of
// fuzz_entries.h (set per target in CMakeLists.txt).
#include "tests/fuzz/fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return warren::fuzz::WARREN_FUZZ_ENTRY(data, size);
}
