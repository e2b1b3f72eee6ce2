// The incremental directory reader (source/dir_reader.h): after every change its
// snapshot is loadDirectory's of the same directory (objects and errors, in order),
// it parses only the files that changed, and it reports the objects that changed.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/file_io.h"
#include "source/dir_reader.h"
#include "source/node_view.h"
#include "source/yaml_source.h"

namespace warren::source {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/warren-dirreader-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  // Written as editors and ConfigMaps do: a new file renamed over the old one.
  void write(const std::string& name, const std::string& text) const {
    ASSERT_TRUE(writeFileAtomic(path + "/" + name, text, 0644));
  }
  void remove(const std::string& name) const { fs::remove(path + "/" + name); }
  void rename(const std::string& from, const std::string& to) const { fs::rename(path + "/" + from, path + "/" + to); }
  // A new mtime, the content as it was.
  void touch(const std::string& name, int64_t sec) const {
    struct timespec times[2] = {{sec, 0}, {sec, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (path + "/" + name).c_str(), times, 0), 0);
  }
  std::string path;
};

// A clock far ahead of the files' times: no file is "racy", so an unchanged file
// is not parsed again and the tests can count parses.
int64_t farFuture() { return int64_t{4000000000} * 1000000000; }

std::string pod(const std::string& name, const std::string& ip, const std::string& app = "web") {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: a, labels: {app: " + app +
         "}}\nstatus: {podIP: " + ip + "}\n---\n";
}
std::string policy(const std::string& name, const std::string& action) {
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
         ", namespace: a}\nspec: {action: " + action + "}\n---\n";
}

std::vector<std::string> messages(const Snapshot& s) {
  std::vector<std::string> out;
  for (const auto& e : s.errors) out.push_back(e.message);
  return out;
}

// The reader's snapshot is what loadDirectory reads now, object for object.
void expectSameAsLoad(const DirectoryReader& r, const std::string& dir) {
  auto whole = loadDirectory(dir);
  ASSERT_TRUE(whole);
  EXPECT_TRUE(diffSnapshots(*whole, r.snapshot()).empty());
  EXPECT_EQ(messages(r.snapshot()), messages(*whole));
}

std::map<std::string, Change> podChanges(const SnapshotDiff& d) { return d.of(ObjectKind::Pod); }

TEST(DirectoryReader, ParsesOnlyWhatChangedAndSaysWhichObjects) {
  TempDir d;
  d.write("a.yaml", pod("p1", "10.0.0.1") + pod("p2", "10.0.0.2"));
  d.write("b.yaml", policy("allow", "ALLOW"));
  DirectoryReader r(d.path, farFuture);
  auto first = r.read();
  ASSERT_TRUE(first);
  EXPECT_EQ(r.lastRead().filesParsed, 2u);
  EXPECT_EQ(podChanges(*first), (std::map<std::string, Change>{{"a/p1", Change::Added}, {"a/p2", Change::Added}}));
  EXPECT_EQ(first->of(ObjectKind::AuthorizationPolicy).size(), 1u);
  expectSameAsLoad(r, d.path);

  // Nothing changed: nothing parsed, nothing reported.
  auto none = r.read();
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(r.lastRead().filesParsed, 0u);

  // A new file: only it is parsed.
  d.write("c.yaml", pod("p3", "10.0.0.3"));
  auto added = r.read();
  ASSERT_TRUE(added);
  EXPECT_EQ(r.lastRead().filesParsed, 1u);
  EXPECT_EQ(podChanges(*added), (std::map<std::string, Change>{{"a/p3", Change::Added}}));
  expectSameAsLoad(r, d.path);

  // One pod of a file changed (its IP), the other pod in it as it was.
  d.write("a.yaml", pod("p1", "10.0.0.11") + pod("p2", "10.0.0.2"));
  auto changed = r.read();
  ASSERT_TRUE(changed);
  EXPECT_EQ(r.lastRead().filesParsed, 1u);
  EXPECT_EQ(podChanges(*changed), (std::map<std::string, Change>{{"a/p1", Change::Changed}}));
  EXPECT_EQ(r.snapshot().pods.at("a/p1").ips, (std::vector<std::string>{"10.0.0.11"}));
  expectSameAsLoad(r, d.path);

  // Touched, the same content: read (its bytes compared), not parsed, no change.
  d.touch("b.yaml", 1700000000);
  auto touched = r.read();
  ASSERT_TRUE(touched);
  EXPECT_EQ(r.lastRead().filesRead, 1u);
  EXPECT_EQ(r.lastRead().filesParsed, 0u);
  EXPECT_TRUE(touched->empty());

  // Renamed: the same objects, found in another file (their `where` moves).
  d.rename("b.yaml", "d.yaml");
  auto renamed = r.read();
  ASSERT_TRUE(renamed);
  EXPECT_EQ(r.lastRead().filesDropped, 1u);
  EXPECT_EQ(r.lastRead().filesParsed, 1u);
  EXPECT_EQ(renamed->of(ObjectKind::AuthorizationPolicy),
            (std::map<std::string, Change>{{"a/allow", Change::Changed}}));
  EXPECT_NE(r.snapshot().authorizationPolicies.at("a/allow").where.find("d.yaml"), std::string::npos);
  expectSameAsLoad(r, d.path);

  // Removed: its objects go.
  d.remove("c.yaml");
  auto removed = r.read();
  ASSERT_TRUE(removed);
  EXPECT_EQ(r.lastRead().filesParsed, 0u);
  EXPECT_EQ(podChanges(*removed), (std::map<std::string, Change>{{"a/p3", Change::Removed}}));
  expectSameAsLoad(r, d.path);
}

TEST(DirectoryReader, ABadFileStaysReportedUntilFixed) {
  TempDir d;
  d.write("a.yaml", pod("p1", "10.0.0.1"));
  d.write("bad.yaml", "kind: Pod\nmetadata: {name: [oops\n");
  d.write("c.yaml", pod("p2", "not-an-ip"));
  DirectoryReader r(d.path, farFuture);
  ASSERT_TRUE(r.read());
  ASSERT_EQ(r.snapshot().errors.size(), 2u);
  expectSameAsLoad(r, d.path);

  // Another file changes: the bad files are not parsed again, their errors stay.
  d.write("a.yaml", pod("p1", "10.0.0.10"));
  ASSERT_TRUE(r.read());
  EXPECT_EQ(r.lastRead().filesParsed, 1u);
  EXPECT_EQ(r.snapshot().errors.size(), 2u);
  expectSameAsLoad(r, d.path);

  // Fixed: the error goes, the pod comes.
  d.write("bad.yaml", pod("p3", "10.0.0.3"));
  auto fixed = r.read();
  ASSERT_TRUE(fixed);
  EXPECT_EQ(podChanges(*fixed), (std::map<std::string, Change>{{"a/p3", Change::Added}}));
  EXPECT_EQ(r.snapshot().errors.size(), 1u);
  expectSameAsLoad(r, d.path);
}

// Two files with one key: the first (sorted) wins and the second is reported a
// duplicate, as loadDirectory does; when the first goes, the second takes over.
TEST(DirectoryReader, DuplicateKeysKeepTheFirstFile) {
  TempDir d;
  d.write("a.yaml", pod("p1", "10.0.0.1"));
  d.write("b.yaml", pod("p1", "10.0.0.2") + pod("p1", "10.0.0.3"));
  DirectoryReader r(d.path, farFuture);
  ASSERT_TRUE(r.read());
  EXPECT_EQ(r.snapshot().pods.at("a/p1").ips.front(), "10.0.0.1");
  EXPECT_EQ(r.snapshot().errors.size(), 2u);
  expectSameAsLoad(r, d.path);

  d.remove("a.yaml");
  auto next = r.read();
  ASSERT_TRUE(next);
  EXPECT_EQ(podChanges(*next), (std::map<std::string, Change>{{"a/p1", Change::Changed}}));
  EXPECT_EQ(r.snapshot().pods.at("a/p1").ips.front(), "10.0.0.2");
  expectSameAsLoad(r, d.path);
}

TEST(DirectoryReader, AnUnreadableDirectoryKeepsTheLastSnapshot) {
  TempDir d;
  d.write("a.yaml", pod("p1", "10.0.0.1"));
  DirectoryReader r(d.path + "/sub", farFuture);
  EXPECT_FALSE(r.read());
  fs::create_directory(d.path + "/sub");
  d.write("sub/a.yaml", pod("p1", "10.0.0.1"));
  ASSERT_TRUE(r.read());
  fs::remove_all(d.path + "/sub");
  EXPECT_FALSE(r.read());
  EXPECT_EQ(r.snapshot().pods.size(), 1u);
}

// File times tick with the kernel's clock tick: a file rewritten in place, to the
// same size, in the tick of the read that parsed it, may keep every field of its
// identity. Such a file ("racy", as git calls it) is read again at the next read,
// whatever its identity says, and parsed if its bytes changed. (A test cannot make
// that rewrite keep the ctime, which only the kernel sets, so it checks the rule
// on an untouched file.)
TEST(DirectoryReader, AFileAsNewAsTheReadIsReadAgain) {
  TempDir d;
  d.write("a.yaml", pod("p1", "10.0.0.1"));
  struct stat st {};
  ASSERT_EQ(::stat((d.path + "/a.yaml").c_str(), &st), 0);
  // The first read runs in the tick a.yaml was written in.
  int64_t clock = int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec;
  DirectoryReader r(d.path, [&] { return clock; });
  ASSERT_TRUE(r.read());
  EXPECT_EQ(r.lastRead().filesParsed, 1u);
  clock = farFuture();
  auto again = r.read();
  ASSERT_TRUE(again);
  EXPECT_EQ(r.lastRead().filesRead, 1u);
  EXPECT_EQ(r.lastRead().filesParsed, 0u);  // the same bytes
  EXPECT_TRUE(again->empty());
  // Read when no longer racy: not again.
  ASSERT_TRUE(r.read());
  EXPECT_EQ(r.lastRead().filesRead, 0u);
}

// Random writes, rewrites, touches, renames and removals, with the real clock and
// no pause between them (rewrites of one size in one clock tick included): after
// each step the snapshot is loadDirectory's, and the reported changes are exactly
// the objects that differ from the step before.
TEST(DirectoryReader, RandomEditsMatchAWholeRead) {
  const std::vector<std::string> names = {"a.yaml", "b.yaml", "c.yml", "d.yaml", ".hidden.yaml"};
  for (unsigned seed = 1; seed <= 5; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
    auto text = [&] {
      std::string t;
      for (size_t i = pick(4); i > 0; --i) {
        switch (pick(6)) {
          case 0: t += "kind: Pod\nmetadata: {name: [broken\n---\n"; break;
          case 1: t += pod("p" + std::to_string(pick(4)), "not-an-ip"); break;
          case 2: t += policy("x" + std::to_string(pick(2)), pick(2) ? "ALLOW" : "DENY"); break;
          default: t += pod("p" + std::to_string(pick(4)), "10.0.0." + std::to_string(pick(3)), pick(2) ? "a" : "b");
        }
      }
      return t;
    };
    TempDir d;
    DirectoryReader r(d.path);
    Snapshot before;
    for (int step = 0; step < 150; ++step) {
      const std::string& name = names[pick(names.size())];
      switch (pick(5)) {
        case 0: d.remove(name); break;
        case 1:
          if (fs::exists(d.path + "/" + name)) d.rename(name, names[pick(names.size())]);
          break;
        default: d.write(name, text());
      }
      SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step));
      auto changes = r.read();
      ASSERT_TRUE(changes);
      expectSameAsLoad(r, d.path);
      EXPECT_EQ(changes->keys, diffSnapshots(before, r.snapshot()).keys);
      before = r.snapshot();
    }
  }
}

// The agent's reader (node_view.h): what loadNodeView reads, step after step of
// random edits, holding only the node's pods and the namespaces, and parsing
// only the files that changed. Each pod's key is its file's (a key in two files
// is an error in the directory, which the two resolve alike only among the
// objects they keep).
TEST(DirectoryReader, TheNodeViewReaderHoldsWhatLoadNodeViewReads) {
  const std::vector<std::string> names = {"a.yaml", "b.yaml", "c.yaml", "d.yaml"};
  auto onNode = [](const std::string& name, const std::string& node) {
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: a}\nspec: {nodeName: " + node +
           "}\nstatus: {podIP: 10.0.0.1}\n---\n";
  };
  for (unsigned seed = 1; seed <= 4; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
    auto text = [&](const std::string& file) {
      std::string t;
      for (size_t i = pick(4); i > 0; --i) {
        const std::string name = file.substr(0, 1) + std::to_string(i);
        switch (pick(6)) {
          case 0:
            t += "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {v: \"" + std::to_string(pick(3)) +
                 "\"}}\n---\n";
            break;
          case 1: t += policy("x" + std::to_string(pick(2)), "DENY"); break;
          case 2: t += "kind: Pod\nmetadata: {name: [broken\n---\n"; break;
          case 3: t += pod(name, "10.0.0.2"); break;  // no nodeName: any node's
          default: t += onNode(name, pick(2) ? "node1" : "node2");
        }
      }
      return t;
    };
    TempDir d;
    DirectoryReader r = nodeViewReader(d.path, "node1");
    for (int step = 0; step < 100; ++step) {
      const std::string& name = names[pick(names.size())];
      if (pick(5) == 0)
        d.remove(name);
      else
        d.write(name, text(name));
      SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step));
      ASSERT_TRUE(r.read());
      auto whole = loadNodeView(d.path, "node1");
      ASSERT_TRUE(whole);
      EXPECT_EQ(r.snapshot().pods, whole->pods);
      EXPECT_EQ(r.snapshot().namespaces, whole->namespaces);
      EXPECT_TRUE(r.snapshot().authorizationPolicies.empty());
      for (const auto& [key, p] : r.snapshot().pods) EXPECT_NE(p.nodeName, "node2") << key;
    }
  }
}

TEST(DirectoryReader, TheNodeViewReaderParsesOnlyTheFileThatChanged) {
  TempDir d;
  std::string many;
  for (int i = 0; i < 50; ++i)
    many += "apiVersion: v1\nkind: Pod\nmetadata: {name: o" + std::to_string(i) +
            ", namespace: a}\nspec: {nodeName: node2}\nstatus: {podIP: 10.1.0." + std::to_string(i + 1) + "}\n---\n";
  d.write("other-nodes.yaml", many);
  d.write("mine.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: m, namespace: a}\nspec: {nodeName: node1}\n");
  DirectoryReader r(d.path, farFuture, [](const Snapshot& one) {
    return !one.namespaces.empty() || (!one.pods.empty() && one.pods.begin()->second.nodeName == "node1");
  });
  ASSERT_TRUE(r.read());
  EXPECT_EQ(r.snapshot().pods.size(), 1u);
  d.write("churn.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: c, namespace: a}\nspec: {nodeName: node2}\n");
  ASSERT_TRUE(r.read());
  EXPECT_EQ(r.lastRead().filesParsed, 1u);
  EXPECT_EQ(r.snapshot().pods.size(), 1u);
}

}  // namespace
}  // namespace warren::source
