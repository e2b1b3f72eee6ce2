// Every file of every fuzz target's committed corpus (tests/fuzz/corpus/<target>/:
// the seeds, and one file per bug the fuzzers found) through the same entry
// function libFuzzer calls, in the normal and the ASan+UBSan trees: the corpus is
// a regression suite without clang. A broken invariant aborts (FUZZ_CHECK), which
// fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_entries.h"

namespace warren::fuzz {
namespace {

struct Target {
  const char* name;  // the corpus directory and the fuzz_<name> binary
  int (*entry)(const uint8_t*, size_t);
};

const Target kTargets[] = {
    {"http1", http1Entry},
    {"h2_server", h2ServerEntry},
    {"istio_yaml", istioYamlEntry},
    {"xds", xdsEntry},
    {"kube_json", kubeJsonEntry},
    {"cni_json", cniJsonEntry},
    {"hbone_connect", hboneConnectEntry},
    {"jwt", jwtEntry},
    {"telemetry_http", telemetryHttpEntry},
    {"cert_san", certSanEntry},
    {"hbone_server", hboneServerEntry},
    {"zds_request", zdsRequestEntry},
    {"zds_ack", zdsAckEntry},
};

class CorpusReplay : public testing::TestWithParam<Target> {};

TEST_P(CorpusReplay, EveryCorpusFilePassesTheEntryFunction) {
  const std::filesystem::path dir = std::filesystem::path(WARREN_FUZZ_CORPUS) / GetParam().name;
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir << ": every target needs a seed corpus";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  ASSERT_FALSE(files.empty()) << dir << " is empty";
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(GetParam().entry(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, CorpusReplay, testing::ValuesIn(kTargets),
                         [](const testing::TestParamInfo<Target>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace warren::fuzz
