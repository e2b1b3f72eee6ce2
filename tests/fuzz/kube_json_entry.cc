// What the Kubernetes API source reads from the API server (or what `kubectl get
// -o json` prints): watch streams of JSON lines and single objects. Input: one
// byte choosing the resource (standaloneResources(), whose kind list items lack),
// then a watch body. Each line goes through the watch parser and the object
// store; the stores build a snapshot, which becomes the state and its config
// dump. The body is also read as one object (kubectl -o json of one object)
// through the YAML source's conversion. Invariant: nothing throws or crashes.
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "source/kube/object_store.h"
#include "source/kube/resources.h"
#include "source/kube/watch_stream.h"
#include "source/yaml_source.h"
#include "state/from_snapshot.h"
#include "state/state_json.h"
#include "tests/fuzz/fuzz_entries.h"

namespace warren::fuzz {

int kubeJsonEntry(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto& types = source::kube::standaloneResources();
  const size_t index = data[0] % types.size();
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  std::vector<source::kube::ObjectMap> objects(types.size());
  source::kube::LineSplitter lines(64 << 10);
  (void)lines.feed(body, [&](std::string_view line) -> Status {
    auto event = source::kube::parseWatchEvent(line);
    if (!event) return okStatus();  // the reflector drops the watch; the fuzzer goes on
    (void)source::kube::applyEvent(objects[index], *event, types[index]);
    return okStatus();
  });
  const source::Snapshot snapshot = source::kube::buildSnapshot(types, objects);
  std::vector<Error> notes;
  auto state = state::stateFromSnapshot(snapshot, state::SnapshotOptions{}, &notes);
  FUZZ_CHECK(state != nullptr);
  (void)state::toJson(*state).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  YAML::Node object;
  try {
    object = YAML::Load(std::string(body));
  } catch (const YAML::Exception&) {
    return 0;
  }
  if (!object.IsMap()) return 0;
  source::kube::stampKind(object, types[index]);
  (void)source::kube::objectKey(object);
  source::Snapshot one;
  source::convertObject(object, "fuzz.json", one);
  return 0;
}

}  // namespace warren::fuzz
