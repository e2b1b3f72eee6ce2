// The audit writer against real files: what it writes verifies, a restart
// continues in a new file chained to the old one without touching it, files
// rotate by size, and a full disk (a small tmpfs in a private mount namespace,
// root) is counted and recorded as a gap, never silently dropped.

#include "audit/audit_writer.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/mount.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "audit/signing_key.h"
#include "audit/verify.h"
#include "common/file_io.h"
#include "tests/support/private_mount_namespace.h"

namespace warren::audit {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/warren-audit-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A copy of the key: the writer takes its own.
ossl::EvpPkeyPtr copyOf(EVP_PKEY* k) {
  EVP_PKEY_up_ref(k);
  return ossl::EvpPkeyPtr(k);
}

std::vector<std::string> auditFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().string().ends_with(".audit.jsonl")) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

Verification verifyDir(const std::string& dir) {
  auto key = loadVerifyingKey(dir + "/audit-pub.pem");
  EXPECT_TRUE(key) << (key ? "" : key.error().message);
  std::vector<AuditFileText> texts;
  for (const auto& p : auditFiles(dir)) texts.push_back(splitAuditFile(p, *readFile(p)));
  return verifyAuditFiles(texts, [k = key->get()](std::string_view m, std::string_view s) { return verify(k, m, s); });
}

std::string dump(const Verification& v) {
  std::string s;
  for (const auto& f : v.findings) s += std::string(severityName(f.severity)) + " " + f.file + " " + f.what + "\n";
  return s;
}

// Until the writer has written (or failed to write) what was submitted: its
// counters are the signal.
bool waitSettled(const AuditWriter& w, uint64_t submitted) {
  for (int i = 0; i < 5000; ++i) {
    const auto& c = w.counters();
    if (c.records + c.dropped >= submitted) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

AuditWriterOptions options(const std::string& dir) {
  AuditWriterOptions o;
  o.dir = dir;
  o.node = "node-a";
  return o;
}

class AuditWriterTest : public ::testing::Test {
 protected:
  ossl::EvpPkeyPtr key_{EVP_EC_gen("P-256")};
  TempDir dir_;
};

TEST_F(AuditWriterTest, WhatItWritesVerifiesAndEndsInAFinalCheckpoint) {
  {
    auto w = AuditWriter::start(options(dir_.path), copyOf(key_.get()));
    ASSERT_TRUE(w) << w.error().message;
    for (int i = 0; i < 5; ++i) (*w)->submit("\"n\":" + std::to_string(i));
  }
  auto v = verifyDir(dir_.path);
  EXPECT_EQ(v.exitCode(), 0) << dump(v);
  EXPECT_EQ(v.records, 5u);
  auto files = auditFiles(dir_.path);
  ASSERT_EQ(files.size(), 1u);
  auto text = splitAuditFile("", *readFile(files[0]));
  EXPECT_NE(text.lines.back().find("\"final\":true"), std::string::npos) << text.lines.back();
}

TEST_F(AuditWriterTest, ARestartContinuesInANewFileChainedToTheOldOneWhichItLeavesAlone) {
  {
    auto w = AuditWriter::start(options(dir_.path), copyOf(key_.get()));
    ASSERT_TRUE(w);
    for (int i = 0; i < 3; ++i) (*w)->submit("\"n\":" + std::to_string(i));
  }
  const std::string first = auditFiles(dir_.path).at(0);
  const std::string before = *readFile(first);
  {
    auto w = AuditWriter::start(options(dir_.path), copyOf(key_.get()));
    ASSERT_TRUE(w);
    for (int i = 3; i < 5; ++i) (*w)->submit("\"n\":" + std::to_string(i));
  }
  EXPECT_EQ(*readFile(first), before);
  ASSERT_EQ(auditFiles(dir_.path).size(), 2u);
  auto v = verifyDir(dir_.path);
  EXPECT_EQ(v.exitCode(), 0) << dump(v);
  EXPECT_EQ(v.records, 5u);
}

// Two writers of one node at once (a rolling update's new tunnel beside the
// draining one): the second writes as "node-a~2", a chain of its own, so the
// directory still verifies; the next writer of "node-a" continues the first chain.
TEST_F(AuditWriterTest, ASecondWriterOfTheSameNodeAtOnceWritesAChainOfItsOwn) {
  auto old = AuditWriter::start(options(dir_.path), copyOf(key_.get()));
  ASSERT_TRUE(old) << old.error().message;
  auto surge = AuditWriter::start(options(dir_.path), copyOf(key_.get()));
  ASSERT_TRUE(surge) << surge.error().message;
  EXPECT_EQ((*old)->node(), "node-a");
  EXPECT_EQ((*surge)->node(), "node-a~2");
  EXPECT_NE((*surge)->currentFile().find("/node-a~2-00000000.audit.jsonl"), std::string::npos)
      << (*surge)->currentFile();
  for (int i = 0; i < 3; ++i) {
    (*old)->submit("\"n\":" + std::to_string(i));
    (*surge)->submit("\"m\":" + std::to_string(i));
  }
  old->reset();  // the old one drains and ends; the new one goes on
  // The next rolling update: its new writer takes the free name and continues
  // that chain, beside the one still writing as node-a~2.
  auto next = AuditWriter::start(options(dir_.path), copyOf(key_.get()));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ((*next)->node(), "node-a");
  EXPECT_NE((*next)->currentFile().find("/node-a-00000001.audit.jsonl"), std::string::npos) << (*next)->currentFile();
  (*next)->submit("\"n\":3");
  surge->reset();
  next->reset();
  auto v = verifyDir(dir_.path);
  EXPECT_EQ(v.exitCode(), 0) << dump(v);
  EXPECT_EQ(v.records, 7u);
}

TEST_F(AuditWriterTest, FilesRotateBySizeAndChain) {
  auto o = options(dir_.path);
  o.maxBytes = 400;
  {
    auto w = AuditWriter::start(o, copyOf(key_.get()));
    ASSERT_TRUE(w);
    for (int i = 0; i < 12; ++i) {
      (*w)->submit("\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(100, 'x') + "\"");
      ASSERT_TRUE(waitSettled(**w, i + 1));
    }
  }
  EXPECT_GE(auditFiles(dir_.path).size(), 3u);
  auto v = verifyDir(dir_.path);
  EXPECT_EQ(v.exitCode(), 0) << dump(v);
  EXPECT_EQ(v.records, 12u);
}

TEST_F(AuditWriterTest, APeriodicCheckpointSignsRecordsWhileTheFileIsOpen) {
  auto o = options(dir_.path);
  o.checkpointRecords = 2;
  auto w = AuditWriter::start(o, copyOf(key_.get()));
  ASSERT_TRUE(w);
  for (int i = 0; i < 4; ++i) {
    (*w)->submit("\"n\":" + std::to_string(i));
    ASSERT_TRUE(waitSettled(**w, i + 1));
  }
  // The file is still open (a crash now): everything up to the last record is signed.
  auto v = verifyDir(dir_.path);
  EXPECT_EQ(v.exitCode(), 0) << dump(v);
  EXPECT_EQ(v.records, 4u);
}

// Root: a 16 KiB tmpfs in a private mount namespace, filled up while the writer
// runs, then given room again.
TEST_F(AuditWriterTest, AFullDiskIsCountedAndRecordedAsAGap) {
  const std::string dir = dir_.path;
  EVP_PKEY* key = key_.get();
  const int rc = test::inPrivateMountNamespace([&] {
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=16k") != 0) return 92;
    uint64_t dropped = 0, errors = 0;
    {
      auto w = AuditWriter::start(options(dir), copyOf(key));
      if (!w) return 93;
      // Fill what is left with another file.
      {
        std::ofstream filler(dir + "/filler", std::ios::binary);
        const std::string block(1024, 'f');
        for (int i = 0; i < 64 && filler; ++i) filler.write(block.data(), block.size()), filler.flush();
      }
      uint64_t submitted = 0;
      while ((*w)->counters().writeErrors == 0 && submitted < 2000) {
        (*w)->submit("\"n\":" + std::to_string(submitted) + ",\"pad\":\"" + std::string(200, 'x') + "\"");
        if (!waitSettled(**w, ++submitted)) return 94;
      }
      if ((*w)->counters().writeErrors == 0) return 95;
      for (int i = 0; i < 3; ++i) (*w)->submit("\"while full\":" + std::to_string(i));
      submitted += 3;
      if (!waitSettled(**w, submitted)) return 94;
      fs::remove(dir + "/filler");
      for (int i = 0; i < 3; ++i) (*w)->submit("\"after\":" + std::to_string(i));
      submitted += 3;
      if (!waitSettled(**w, submitted)) return 94;
      dropped = (*w)->counters().dropped;
      errors = (*w)->counters().writeErrors;
    }
    auto v = verifyDir(dir);
    std::fprintf(stderr, "dropped %llu, write errors %llu, lost %llu\n%s", (unsigned long long)dropped,
                 (unsigned long long)errors, (unsigned long long)v.lost, dump(v).c_str());
    if (dropped < 4 || v.lost != dropped) return 96;
    if (v.exitCode() != 4) return 97;
    return 0;
  });
  EXPECT_EQ(rc, 0) << "90-91: namespace, 92: tmpfs, 93: writer start, 94: writer stuck, 95: disk never full, "
                      "96: dropped records not all in gap records, 97: verdict not 'records lost'";
}

}  // namespace
}  // namespace warren::audit
