#pragma once
// The standalone source, read again and again: a YAML directory whose re-read
// parses only the files that changed (issue 17: one edited file must not cost a
// parse of the whole cluster). The snapshot it keeps is the one loadDirectory
// would return for the directory as it is now: the same objects (of two with one
// key, the first file's, in sorted order), the same errors in the same order
// (those of unchanged files too). Each read says which objects changed.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "source/cluster_types.h"
#include "source/snapshot_diff.h"

namespace warren::source {

// What tells a rewritten file from an untouched one without reading it: an
// editor's save or a ConfigMap update changes the inode or the times.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtimeNs = 0, ctimeNs = 0;
  bool operator==(const FileIdentity&) const = default;
};

class DirectoryReader {
 public:
  // Which objects the reader holds, given each as a snapshot of that one object;
  // the others are parsed and dropped like a kind this source skips (their
  // documents' errors stay reported). A reader that needs only part of the
  // cluster (the agent's node view, node_view.h) then holds only that part.
  using Keep = std::function<bool(const Snapshot& oneObject)>;

  // `clockNs`: the wall clock in ns (CLOCK_REALTIME, as file times), for tests.
  // `keep`: nullptr keeps every object.
  explicit DirectoryReader(std::string dir, std::function<int64_t()> clockNs = nullptr, Keep keep = nullptr);

  // Stats every file, reads those whose identity changed, parses those whose
  // bytes changed, drops the objects of removed ones. An error only when the directory cannot be listed: the
  // snapshot is then the last one read.
  Result<SnapshotDiff> read();
  const Snapshot& snapshot() const { return snapshot_; }

  struct Stats {
    size_t filesRead = 0;     // whose identity changed (or was racy): their bytes compared
    size_t filesParsed = 0;   // new or changed bytes (and any re-read for a new winner of a duplicate key)
    size_t filesDropped = 0;  // removed since the read before
  };
  const Stats& lastRead() const { return stats_; }

 private:
  // One document that converted to an object, or failed to.
  struct Doc {
    std::vector<std::string> errors;  // its own, in the order loadDirectory reports them
    bool hasObject = false;
    ObjectKind kind = ObjectKind::Pod;
    std::string key, where;
  };
  struct File {
    FileIdentity id;
    std::vector<Doc> docs;
    bool hasErrors = false;
    // Changed within kRacyNs of the read that parsed it: parsed again next time
    // whatever its identity (git's "racy clean" rule). File times tick with the
    // kernel's jiffy, and a rewrite of the same size in the same tick, to an inode
    // number just freed, would otherwise look untouched.
    bool racy = false;
    // Of its bytes (std::hash; nullopt: unreadable): a file touched, or racy and
    // unchanged, is read but not parsed again. Reading and hashing is ~100 times
    // cheaper than parsing YAML.
    std::optional<size_t> contentHash;
  };
  static constexpr int64_t kRacyNs = 50'000'000;
  using ObjectId = std::pair<ObjectKind, std::string>;
  using DocRef = std::pair<std::string, size_t>;  // file path, document index

  // Parses one file: its documents and, per document, the object it made (a
  // snapshot of one object, or none).
  static std::optional<std::string> readText(const std::string& path);
  void parseFile(const std::string& path, const std::optional<std::string>& text, File& file,
                 std::vector<Snapshot>& objects) const;
  void dropClaims(const std::string& path, const File& file, std::set<ObjectId>& touched);
  void rebuildErrors();

  const std::string dir_;
  const std::function<int64_t()> clockNs_;
  const Keep keep_;
  std::map<std::string, File> files_;  // by path: sorted as loadDirectory reads them
  // Who holds each key: the first document wins, the others are duplicates.
  std::map<ObjectId, std::set<DocRef>> claims_;
  std::set<ObjectId> contested_;  // keys held by more than one document
  Snapshot snapshot_;
  Stats stats_;
};

}  // namespace warren::source
