#pragma once
// Naming one pod on the command line (`pod show POD`, `trace --pod POD`): by
// NAMESPACE/NAME, by NAME alone when it is unique, by IP, or by netns cookie.

#include <string>
#include <vector>

#include "common/result.h"
#include "tools/warrenctl/decode.h"

namespace warren::ctl {

// Whether `pod` is what `selector` names; a bare NAME matches in any namespace.
bool podMatches(const PodView& pod, const std::string& selector);

// The one pod `selector` names. Errors: "no enrolled pod matches 'X'", or a bare
// name that several namespaces have ("use NAMESPACE/NAME").
Result<const PodView*> selectPod(const std::vector<PodView>& pods, const std::string& selector);

}  // namespace warren::ctl
