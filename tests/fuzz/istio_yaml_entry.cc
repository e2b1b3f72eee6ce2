// A file in the standalone YAML directory (or a JSON object, which yaml-cpp reads
// too), as an operator or a bad config writes it: documents through the YAML
// source's conversion (source/yaml_source.h convertObject: Namespaces, Pods,
// Services, AuthorizationPolicy, PeerAuthentication, RequestAuthentication,
// Gateways ...), then the state's policy conversion, then the config dump the
// admin port serves. Input: the file's text. Invariant: nothing throws or
// crashes; a bad object lands in the snapshot's or the conversion's errors.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "source/yaml_source.h"
#include "state/from_snapshot.h"
#include "state/state_json.h"
#include "tests/fuzz/fuzz_entries.h"

namespace warren::fuzz {

int istioYamlEntry(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  source::Snapshot snapshot;
  source::loadDocuments(text, "fuzz.yaml", snapshot);
  std::vector<Error> notes;
  auto state = state::stateFromSnapshot(snapshot, state::SnapshotOptions{}, &notes);
  FUZZ_CHECK(state != nullptr);
  // As the admin port's config dump writes it (invalid UTF-8 replaced, not thrown).
  const std::string dump = state::toJson(*state).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  FUZZ_CHECK(!dump.empty());
  return 0;
}

}  // namespace warren::fuzz
