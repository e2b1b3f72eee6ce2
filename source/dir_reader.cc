#include "source/dir_reader.h"

#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "source/yaml_documents.h"
#include "source/yaml_source.h"

namespace warren::source {
namespace {

// f(a's map of that kind, b's map of that kind).
template <typename F>
auto withKindMaps(ObjectKind kind, Snapshot& a, Snapshot& b, F&& f) {
  switch (kind) {
    case ObjectKind::Namespace: return f(a.namespaces, b.namespaces);
    case ObjectKind::Pod: return f(a.pods, b.pods);
    case ObjectKind::Service: return f(a.services, b.services);
    case ObjectKind::EndpointSlice: return f(a.endpointSlices, b.endpointSlices);
    case ObjectKind::AuthorizationPolicy: return f(a.authorizationPolicies, b.authorizationPolicies);
    case ObjectKind::PeerAuthentication: return f(a.peerAuthentications, b.peerAuthentications);
    case ObjectKind::RequestAuthentication: return f(a.requestAuthentications, b.requestAuthentications);
    case ObjectKind::Gateway: break;
  }
  return f(a.gateways, b.gateways);
}

// The one object a one-document snapshot holds, if any.
bool onlyObjectOf(Snapshot& one, ObjectKind* kind, std::string* key) {
  auto take = [&](ObjectKind k, const auto& map) {
    if (map.empty()) return false;
    *kind = k;
    *key = map.begin()->first;
    return true;
  };
  return take(ObjectKind::Namespace, one.namespaces) || take(ObjectKind::Pod, one.pods) ||
         take(ObjectKind::Service, one.services) || take(ObjectKind::EndpointSlice, one.endpointSlices) ||
         take(ObjectKind::AuthorizationPolicy, one.authorizationPolicies) ||
         take(ObjectKind::PeerAuthentication, one.peerAuthentications) ||
         take(ObjectKind::RequestAuthentication, one.requestAuthentications) || take(ObjectKind::Gateway, one.gateways);
}

bool identifyFile(const std::string& path, FileIdentity* id) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;  // gone since the listing: removed
  id->device = st.st_dev;
  id->inode = st.st_ino;
  id->size = st.st_size;
  id->mtimeNs = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  id->ctimeNs = int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec;
  return true;
}

int64_t realtimeNowNs() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace

DirectoryReader::DirectoryReader(std::string dir, std::function<int64_t()> clockNs, Keep keep)
    : dir_(std::move(dir)), clockNs_(clockNs ? std::move(clockNs) : realtimeNowNs), keep_(std::move(keep)) {}

std::optional<std::string> DirectoryReader::readText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

// As loadDirectory and loadDocuments read a file, one document at a time so that
// each object's place in the directory is known (its duplicates are found across
// files later, in rebuildErrors).
void DirectoryReader::parseFile(const std::string& path, const std::optional<std::string>& text, File& file,
                                std::vector<Snapshot>& objects) const {
  file.docs.clear();
  objects.clear();
  auto fileError = [&](std::string message) {
    Doc d;
    d.errors.push_back(std::move(message));
    file.docs.push_back(std::move(d));
    objects.emplace_back();
  };
  if (!text) {
    fileError("cannot read " + path);
  } else {
    std::vector<YAML::Node> docs;
    try {
      docs = loadAllDocuments(*text);
    } catch (const YAML::Exception& e) {
      const std::string line = e.mark.is_null() ? "" : ", line " + std::to_string(e.mark.line + 1);
      fileError(path + line + ": malformed YAML: " + e.msg + "; the file is ignored");
      docs.clear();
    }
    for (const auto& node : docs) {
      if (node.IsNull()) continue;
      Doc d;
      d.where = path + ", line " + std::to_string(node.Mark().line + 1);
      Snapshot one;
      convertObject(node, d.where, one);
      for (const auto& e : one.errors) d.errors.push_back(e.message);
      one.errors.clear();
      d.hasObject = onlyObjectOf(one, &d.kind, &d.key);
      if (d.hasObject && keep_ && !keep_(one)) {
        d.hasObject = false;
        one = Snapshot{};
      }
      if (!d.hasObject && d.errors.empty()) continue;  // a kind this source skips, or not kept
      file.docs.push_back(std::move(d));
      objects.push_back(std::move(one));
    }
  }
  file.hasErrors = false;
  for (const auto& d : file.docs) file.hasErrors |= !d.errors.empty();
}

void DirectoryReader::dropClaims(const std::string& path, const File& file, std::set<ObjectId>& touched) {
  for (size_t i = 0; i < file.docs.size(); ++i) {
    const Doc& d = file.docs[i];
    if (!d.hasObject) continue;
    ObjectId id{d.kind, d.key};
    auto it = claims_.find(id);
    if (it == claims_.end()) continue;
    it->second.erase({path, i});
    if (it->second.empty()) claims_.erase(it);
    touched.insert(id);
  }
}

Result<SnapshotDiff> DirectoryReader::read() {
  auto listed = listConfigFiles(dir_);
  if (!listed) return listed.error();
  stats_ = {};
  const int64_t startNs = clockNs_();
  std::map<std::string, FileIdentity> now;
  for (const auto& path : *listed)
    if (FileIdentity id; identifyFile(path, &id)) now[path] = id;

  std::set<ObjectId> touched;
  for (auto it = files_.begin(); it != files_.end();) {
    if (now.count(it->first)) {
      ++it;
      continue;
    }
    dropClaims(it->first, it->second, touched);
    ++stats_.filesDropped;
    it = files_.erase(it);
  }
  // Parsed this read: each document's object, by file.
  std::map<std::string, std::vector<Snapshot>> parsed;
  for (const auto& [path, id] : now) {
    auto it = files_.find(path);
    if (it != files_.end() && it->second.id == id && !it->second.racy) continue;
    const bool racy = std::max(id.mtimeNs, id.ctimeNs) + kRacyNs > startNs;
    std::optional<std::string> text = readText(path);
    ++stats_.filesRead;
    std::optional<size_t> hash;
    if (text) hash = std::hash<std::string>{}(*text);
    if (it != files_.end() && hash && it->second.contentHash == hash) {
      // Touched, or racy and still as it was: the same bytes, nothing to parse.
      it->second.id = id;
      it->second.racy = racy;
      continue;
    }
    if (it != files_.end()) {
      dropClaims(path, it->second, touched);
      files_.erase(it);
    }
    File& f = files_[path];
    f.id = id;
    f.racy = racy;
    f.contentHash = hash;
    parseFile(path, text, f, parsed[path]);
    ++stats_.filesParsed;
    for (size_t i = 0; i < f.docs.size(); ++i)
      if (f.docs[i].hasObject) {
        claims_[{f.docs[i].kind, f.docs[i].key}].insert({path, i});
        touched.insert({f.docs[i].kind, f.docs[i].key});
      }
  }

  SnapshotDiff diff;
  for (const ObjectId& id : touched) {
    auto claim = claims_.find(id);
    Snapshot winner;  // holds the winning document's object, if any
    bool have = false;
    if (claim != claims_.end()) {
      const auto& [path, index] = *claim->second.begin();
      auto p = parsed.find(path);
      if (p == parsed.end()) {
        // The first of a duplicate key went: the next holder's file is unchanged
        // and its objects were not kept, so it is read again.
        File again;
        p = parsed.emplace(path, std::vector<Snapshot>{}).first;
        parseFile(path, readText(path), again, p->second);
        ++stats_.filesParsed;
      }
      if (index < p->second.size()) {
        winner = std::move(p->second[index]);
        have = true;
      }
      if (claim->second.size() > 1)
        contested_.insert(id);
      else
        contested_.erase(id);
    } else {
      contested_.erase(id);
    }
    withKindMaps(id.first, snapshot_, winner, [&](auto& current, auto& from) {
      auto cur = current.find(id.second);
      auto next = have ? from.find(id.second) : from.end();
      if (next == from.end()) {
        if (cur == current.end()) return;
        current.erase(cur);
        diff.note(id.first, id.second, Change::Removed);
      } else if (cur == current.end()) {
        current.emplace(id.second, std::move(next->second));
        diff.note(id.first, id.second, Change::Added);
      } else if (!(cur->second == next->second)) {
        cur->second = std::move(next->second);
        diff.note(id.first, id.second, Change::Changed);
      }
    });
  }
  if (stats_.filesParsed || stats_.filesDropped) rebuildErrors();
  return diff;
}

// loadDirectory's errors in its order: file by file, each document's own errors,
// then "duplicate" when an earlier document holds its key. Only the files with
// errors or contested keys are visited, not the whole directory.
void DirectoryReader::rebuildErrors() {
  std::set<std::string> paths;
  for (const auto& [path, f] : files_)
    if (f.hasErrors) paths.insert(path);
  for (const auto& id : contested_)
    for (const auto& ref : claims_.at(id)) paths.insert(ref.first);
  snapshot_.errors.clear();
  for (const auto& path : paths) {
    const File& f = files_.at(path);
    for (size_t i = 0; i < f.docs.size(); ++i) {
      const Doc& d = f.docs[i];
      for (const auto& e : d.errors) snapshot_.errors.push_back(makeError(e));
      if (!d.hasObject || !contested_.count({d.kind, d.key})) continue;
      if (*claims_.at({d.kind, d.key}).begin() != DocRef{path, i})
        snapshot_.errors.push_back(
            makeError(d.where + ": duplicate " + kindName(d.kind) + " " + d.key + "; keeping the first"));
    }
  }
}

}  // namespace warren::source
