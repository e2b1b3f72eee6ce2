#pragma once
// Reading a multi-document YAML text (a file of the standalone directory).
//
// yaml-cpp's YAML::LoadAll cannot be used on text from outside: in yaml-cpp 0.7
// (Debian 12) a stream that starts with ',' (or holds such a document) makes it
// loop forever, appending null documents until memory runs out
// (jbeder/yaml-cpp#1040; fixed upstream by #1319, after 0.8.0), so one bad file
// in the directory would take the agent or tunnel down. YAML::Load reads one
// document and stops, so the text is split at its document markers and each
// document is loaded alone.

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace warren::source {

// The documents of `text` as LoadAll would give them (Null for an empty one),
// their marks counted in the whole text. Throws YAML::Exception for malformed YAML.
std::vector<YAML::Node> loadAllDocuments(const std::string& text);

}  // namespace warren::source
