// The audit chain builder and verifier, pure: files built with audit/chain.h in
// memory, then altered as an attacker (or a crash) would, and judged.

#include "audit/verify.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>

#include "audit/chain.h"
#include "audit/signing_key.h"

namespace warren::audit {
namespace {

struct Key {
  ossl::EvpPkeyPtr pkey{EVP_EC_gen("P-256")};
  SignFn signer() const {
    return [k = pkey.get()](std::string_view m) { return sign(k, m); };
  }
  VerifySignature verifier() const {
    return [k = pkey.get()](std::string_view m, std::string_view s) { return verify(k, m, s); };
  }
};

std::string conn(int i) { return "\"verdict\":\"allow\",\"src_workload\":\"client-" + std::to_string(i) + "\""; }

// A file as the writer makes it: header, `records` connection records with a
// checkpoint after every `every`, a final checkpoint.
AuditFileText buildFile(const Key& key, uint64_t fileSeq, const std::string& anchor, int records, int every = 3,
                        bool close = true) {
  AuditFileText f{"node-a-" + std::to_string(fileSeq), {}, true};
  ChainHead head = startChain(anchor);
  f.lines.push_back(chainLine(head, "header", headerFields("node-a", fileSeq, "t")));
  for (int i = 0; i < records; ++i) {
    f.lines.push_back(chainLine(head, "conn", conn(i)));
    if ((i + 1) % every == 0 && i + 1 < records)
      f.lines.push_back(*checkpointLine(head, checkpointFields(i + 1, false, "t"), key.signer()));
  }
  if (close) f.lines.push_back(*checkpointLine(head, checkpointFields(records, true, "t"), key.signer()));
  return f;
}

std::string lastCheckpointHash(const AuditFileText& f) { return sha256Hex(f.lines.back()); }

bool hasFinding(const Verification& v, Severity s, size_t line, const std::string& text) {
  return std::any_of(v.findings.begin(), v.findings.end(), [&](const Finding& f) {
    return f.severity == s && f.line == line && f.what.find(text) != std::string::npos;
  });
}

std::string dump(const Verification& v) {
  std::string s;
  for (const auto& f : v.findings)
    s += std::string(severityName(f.severity)) + " " + f.file + ":" + std::to_string(f.line) + " " + f.what + "\n";
  return s;
}

TEST(AuditVerify, AnUntouchedFileVerifies) {
  Key key;
  auto f = buildFile(key, 0, std::string(kNoPreviousFile), 7);
  auto v = verifyAuditFiles({f}, key.verifier());
  EXPECT_EQ(v.exitCode(), 0) << dump(v);
  EXPECT_EQ(v.records, 7u);
  EXPECT_EQ(v.checkpoints, 3u);  // after 3, after 6, final
}

TEST(AuditVerify, AnEditedByteIsReportedAtItsLine) {
  Key key;
  auto f = buildFile(key, 0, std::string(kNoPreviousFile), 7);
  // Line 3 (seq 2): client-1 becomes client-9.
  auto& line = f.lines[2];
  line[line.find("client-1") + 7] = '9';
  auto v = verifyAuditFiles({f}, key.verifier());
  EXPECT_EQ(v.exitCode(), 3) << dump(v);
  EXPECT_TRUE(hasFinding(v, Severity::Tampered, 3, "(seq 2): edited")) << dump(v);
}

TEST(AuditVerify, ADeletedLineIsReportedAsRemoved) {
  Key key;
  auto f = buildFile(key, 0, std::string(kNoPreviousFile), 7);
  f.lines.erase(f.lines.begin() + 2);  // seq 2
  auto v = verifyAuditFiles({f}, key.verifier());
  EXPECT_EQ(v.exitCode(), 3) << dump(v);
  EXPECT_TRUE(hasFinding(v, Severity::Tampered, 3, "1 record(s) removed before it (seq 2)")) << dump(v);
}

TEST(AuditVerify, TwoReorderedLinesAreReported) {
  Key key;
  auto f = buildFile(key, 0, std::string(kNoPreviousFile), 7);
  std::swap(f.lines[1], f.lines[2]);
  auto v = verifyAuditFiles({f}, key.verifier());
  EXPECT_EQ(v.exitCode(), 3) << dump(v);
  EXPECT_TRUE(hasFinding(v, Severity::Tampered, 2, "records reordered")) << dump(v);
}

TEST(AuditVerify, AnInsertedLineIsReportedEvenWithAValidHash) {
  Key key;
  auto f = buildFile(key, 0, std::string(kNoPreviousFile), 7);
  // The forger chains the new record correctly onto line 2 (seq 1): seq 2 is then used twice.
  ChainHead head{2, sha256Hex(f.lines[1])};
  f.lines.insert(f.lines.begin() + 2, chainLine(head, "conn", conn(99)));
  auto v = verifyAuditFiles({f}, key.verifier());
  EXPECT_EQ(v.exitCode(), 3) << dump(v);
  EXPECT_TRUE(hasFinding(v, Severity::Tampered, 4, "seq used twice: a record inserted")) << dump(v);
}

TEST(AuditVerify, ARechainedForgeryFailsAtTheCheckpointSignature) {
  Key key;
  // header, c0 c1 c2, checkpoint, c3 c4, final checkpoint (line 8, seq 7)
  auto f = buildFile(key, 0, std::string(kNoPreviousFile), 5, 3);
  // Rewrite record seq 6 and recompute the rest of the chain: only the signature catches it.
  ChainHead head{6, sha256Hex(f.lines[5])};
  f.lines[6] = chainLine(head, "conn", conn(42));
  std::string_view signedPart;
  std::string der;
  ASSERT_TRUE(splitSignature(f.lines[7], signedPart, der));
  f.lines[7] = "{\"seq\":7,\"prev\":\"" + head.prev + "\",\"type\":\"checkpoint\"," + checkpointFields(5, true, "t") +
               ",\"sig\":\"" + toHex(der) + "\"}";
  auto v = verifyAuditFiles({f}, key.verifier());
  EXPECT_EQ(v.exitCode(), 3) << dump(v);
  EXPECT_TRUE(hasFinding(v, Severity::Tampered, 8, "checkpoint signature does not verify")) << dump(v);
}

TEST(AuditVerify, ATruncatedLastFileEndsInAnUnsignedTail) {
  Key key;
  auto f = buildFile(key, 0, std::string(kNoPreviousFile), 7);
  f.lines.resize(f.lines.size() - 3);  // the final checkpoint, the last record, the checkpoint before
  auto v = verifyAuditFiles({f}, key.verifier());
  EXPECT_EQ(v.exitCode(), 2) << dump(v);
  EXPECT_TRUE(hasFinding(v, Severity::Unverifiable, 6, "unsigned tail of 3 record(s)")) << dump(v);
}

TEST(AuditVerify, ALineCutShortByACrashIsUnverifiedNotTampered) {
  Key key;
  auto f = buildFile(key, 0, std::string(kNoPreviousFile), 4, 3, false);
  std::string content;
  for (const auto& l : f.lines) content += l + "\n";
  content.resize(content.size() - 10);
  auto v = verifyAuditFiles({splitAuditFile("torn", content)}, key.verifier());
  EXPECT_EQ(v.exitCode(), 2) << dump(v);
  EXPECT_TRUE(hasFinding(v, Severity::Unverifiable, 6, "cut short")) << dump(v);
}

TEST(AuditVerify, AWrongKeyVerifiesNothingAndSaysSo) {
  Key key, other;
  auto f = buildFile(key, 0, std::string(kNoPreviousFile), 7);
  auto v = verifyAuditFiles({f}, other.verifier());
  EXPECT_EQ(v.exitCode(), 2) << dump(v);
  EXPECT_TRUE(hasFinding(v, Severity::Unverifiable, 0, "not the key that signed these files")) << dump(v);
}

TEST(AuditVerify, FilesChainAcrossRotation) {
  Key key;
  auto a = buildFile(key, 0, std::string(kNoPreviousFile), 4);
  auto b = buildFile(key, 1, lastCheckpointHash(a), 4);
  auto c = buildFile(key, 2, lastCheckpointHash(b), 4);
  auto v = verifyAuditFiles({c, a, b}, key.verifier());  // any order on the command line
  EXPECT_EQ(v.exitCode(), 0) << dump(v);
  EXPECT_EQ(v.records, 12u);
}

TEST(AuditVerify, AFileMissingFromTheMiddleIsReported) {
  Key key;
  auto a = buildFile(key, 0, std::string(kNoPreviousFile), 4);
  auto b = buildFile(key, 1, lastCheckpointHash(a), 4);
  auto c = buildFile(key, 2, lastCheckpointHash(b), 4);
  auto v = verifyAuditFiles({a, c}, key.verifier());
  EXPECT_EQ(v.exitCode(), 3) << dump(v);
  EXPECT_TRUE(hasFinding(v, Severity::Tampered, 0, "file(s) 1 missing between node-a-0 and node-a-2")) << dump(v);
}

TEST(AuditVerify, AnEarlierFileCutAfterItsLastCheckpointBreaksTheLinkToTheNext) {
  Key key;
  auto a = buildFile(key, 0, std::string(kNoPreviousFile), 7);
  auto b = buildFile(key, 1, lastCheckpointHash(a), 2);
  a.lines.resize(a.lines.size() - 2);  // ends now at its last periodic checkpoint: looks closed
  auto v = verifyAuditFiles({a, b}, key.verifier());
  EXPECT_EQ(v.exitCode(), 3) << dump(v);
  EXPECT_TRUE(hasFinding(v, Severity::Tampered, 1, "does not chain to the last checkpoint of node-a-0")) << dump(v);
}

TEST(AuditVerify, ARestartAfterACrashChainsToTheLastCheckpointAndReportsTheTail) {
  Key key;
  // The first run died after 4 records with a checkpoint after 3: one record unsigned.
  auto a = buildFile(key, 0, std::string(kNoPreviousFile), 4, 3, false);
  std::string anchor = sha256Hex(a.lines[4]);  // the checkpoint after 3
  auto b = buildFile(key, 1, anchor, 2);
  auto v = verifyAuditFiles({a, b}, key.verifier());
  EXPECT_EQ(v.exitCode(), 2) << dump(v);
  EXPECT_TRUE(hasFinding(v, Severity::Unverifiable, 6, "unsigned tail of 1 record(s)")) << dump(v);
  EXPECT_EQ(v.records, 6u);
}

TEST(AuditVerify, AGapRecordIsReportedAsLostWithItsCount) {
  Key key;
  AuditFileText f{"g", {}, true};
  ChainHead head = startChain(kNoPreviousFile);
  f.lines.push_back(chainLine(head, "header", headerFields("node-a", 0, "t")));
  f.lines.push_back(chainLine(head, "conn", conn(0)));
  f.lines.push_back(chainLine(head, "gap", gapFields(17, "write error: No space left on device", "t")));
  f.lines.push_back(chainLine(head, "conn", conn(1)));
  f.lines.push_back(*checkpointLine(head, checkpointFields(2, true, "t"), key.signer()));
  auto v = verifyAuditFiles({f}, key.verifier());
  EXPECT_EQ(v.exitCode(), 4) << dump(v);
  EXPECT_EQ(v.lost, 17u);
  EXPECT_TRUE(hasFinding(v, Severity::Lost, 3, "17 record(s) lost before it: write error")) << dump(v);
}

TEST(AuditChain, EachLineCarriesItsSeqAndThePreviousLinesHash) {
  ChainHead head = startChain(kNoPreviousFile);
  const std::string header = chainLine(head, "header", headerFields("n", 0, "t"));
  const std::string record = chainLine(head, "conn", conn(0));
  EXPECT_EQ(header.rfind("{\"seq\":0,\"prev\":\"" + std::string(kNoPreviousFile) + "\",\"type\":\"header\"", 0), 0u);
  EXPECT_EQ(record.rfind("{\"seq\":1,\"prev\":\"" + sha256Hex(header) + "\",\"type\":\"conn\",", 0), 0u);
  EXPECT_EQ(head.seq, 2u);
  EXPECT_EQ(head.prev, sha256Hex(record));
}

}  // namespace
}  // namespace warren::audit
