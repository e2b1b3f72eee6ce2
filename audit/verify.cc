#include "audit/verify.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "audit/chain.h"

namespace warren::audit {

AuditFileText splitAuditFile(std::string name, std::string_view content) {
  AuditFileText f{std::move(name), {}, true};
  size_t start = 0;
  while (start < content.size()) {
    const size_t nl = content.find('\n', start);
    if (nl == std::string_view::npos) {
      f.lines.emplace_back(content.substr(start));
      f.lastLineComplete = false;
      break;
    }
    f.lines.emplace_back(content.substr(start, nl - start));
    start = nl + 1;
  }
  return f;
}

std::string_view severityName(Severity s) {
  switch (s) {
    case Severity::Tampered: return "TAMPERED";
    case Severity::Unverifiable: return "UNVERIFIED";
    case Severity::Lost: return "LOST";
    case Severity::Note: return "note";
  }
  return "?";
}

int Verification::exitCode() const {
  auto has = [this](Severity s) {
    return std::any_of(findings.begin(), findings.end(), [s](const Finding& f) { return f.severity == s; });
  };
  if (has(Severity::Tampered)) return 3;
  if (has(Severity::Unverifiable)) return 2;
  if (has(Severity::Lost)) return 4;
  return 0;
}

namespace {

// What one file's own check leaves for the checks across files.
struct FileSummary {
  const AuditFileText* text = nullptr;
  std::string node;
  uint64_t fileSeq = 0;
  std::string anchor;          // its header's prev
  std::string lastCheckpoint;  // hash of its last checkpoint line ("" none)
  std::string headerHash;
  bool hasHeader = false;
};

struct SignatureTally {
  uint64_t good = 0;
  std::vector<Finding> bad;  // tampering, unless no checkpoint verifies at all (wrong key)
};

std::string lineWhat(size_t line, std::optional<uint64_t> seq, const std::string& text) {
  return "line " + std::to_string(line) + (seq ? " (seq " + std::to_string(*seq) + ")" : "") + ": " + text;
}

FileSummary checkFile(const AuditFileText& f, const VerifySignature& verifySignature, Verification& out,
                      SignatureTally& sigs) {
  FileSummary s;
  s.text = &f;
  auto report = [&](Severity sev, size_t line, std::string what) {
    out.findings.push_back({sev, f.name, line, std::move(what)});
  };
  if (f.lines.empty()) {
    report(Severity::Unverifiable, 0, "empty file: no header");
    return s;
  }
  // Parse all first: a reorder is told from a removal by whether the missing seq
  // turns up elsewhere in the file.
  std::vector<nlohmann::json> parsed;
  std::multiset<uint64_t> seqs;
  for (const auto& line : f.lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned() || !j.contains("prev") ||
        !j["prev"].is_string() || !j.contains("type") || !j["type"].is_string())
      j = nlohmann::json();
    else
      seqs.insert(j["seq"].get<uint64_t>());
    parsed.push_back(std::move(j));
  }
  uint64_t expect = 0;
  std::string prevHash;
  std::optional<size_t> lastSigned;  // index of the last checkpoint whose signature verifies
  size_t lastCheckpointIdx = SIZE_MAX;
  for (size_t i = 0; i < f.lines.size(); ++i) {
    const size_t lineNo = i + 1;
    const std::string& line = f.lines[i];
    const auto& j = parsed[i];
    const bool torn = i + 1 == f.lines.size() && !f.lastLineComplete;
    if (j.is_null()) {
      if (torn)
        report(Severity::Unverifiable, lineNo, "the last line is cut short (a write interrupted by a crash)");
      else
        report(Severity::Tampered, lineNo, lineWhat(lineNo, std::nullopt, "not an audit record: edited"));
      prevHash = sha256Hex(line);
      expect++;
      continue;
    }
    const uint64_t seq = j["seq"].get<uint64_t>();
    const std::string type = j["type"].get<std::string>();
    if (i == 0) {
      if (type != "header" || seq != 0) {
        report(Severity::Tampered, lineNo, "the first line is not a header: records removed from the start");
      } else {
        s.hasHeader = true;
        s.node = j.value("node", "");
        s.fileSeq = j.value("file_seq", uint64_t{0});
        s.anchor = j["prev"].get<std::string>();
        s.headerHash = sha256Hex(line);
      }
    } else if (seq != expect) {
      if (seq > expect && seqs.count(expect))
        report(Severity::Tampered, lineNo,
               lineWhat(lineNo, seq, "out of order (seq " + std::to_string(expect) + " expected): records reordered"));
      else if (seq > expect)
        report(Severity::Tampered, lineNo,
               lineWhat(lineNo, seq,
                        std::to_string(seq - expect) + " record(s) removed before it (seq " + std::to_string(expect) +
                            (seq - expect > 1 ? ".." + std::to_string(seq - 1) : "") + ")"));
      else if (seqs.count(seq) > 1)
        report(Severity::Tampered, lineNo, lineWhat(lineNo, seq, "seq used twice: a record inserted"));
      else
        report(Severity::Tampered, lineNo,
               lineWhat(lineNo, seq, "out of order (seq " + std::to_string(expect) + " expected): records reordered"));
    } else if (j["prev"].get<std::string>() != prevHash) {
      report(Severity::Tampered, lineNo - 1,
             lineWhat(lineNo - 1, seq - 1,
                      "edited (or a record inserted before line " + std::to_string(lineNo) +
                          "): its hash is not the next record's prev"));
    }
    expect = seq + 1;
    prevHash = sha256Hex(line);
    if (type == "checkpoint") {
      out.checkpoints++;
      lastCheckpointIdx = i;
      s.lastCheckpoint = prevHash;
      std::string_view signedPart;
      std::string der;
      if (splitSignature(line, signedPart, der) && verifySignature(signedPart, der)) {
        sigs.good++;
        lastSigned = i;
      } else {
        sigs.bad.push_back({Severity::Tampered, f.name, lineNo,
                            lineWhat(lineNo, seq, "checkpoint signature does not verify: edited")});
      }
    } else if (type == "gap") {
      const uint64_t dropped = j.value("dropped", uint64_t{0});
      out.lost += dropped;
      report(Severity::Lost, lineNo,
             lineWhat(lineNo, seq,
                      std::to_string(dropped) + " record(s) lost before it: " + j.value("reason", std::string())));
    } else if (type != "header") {
      out.records++;  // conn, request, cert, and any type a later version adds
    }
  }
  const size_t signedUpTo = lastSigned ? *lastSigned + 1 : 0;
  if (signedUpTo < f.lines.size()) {
    const size_t tail = f.lines.size() - signedUpTo;
    report(Severity::Unverifiable, signedUpTo + 1,
           "unsigned tail of " + std::to_string(tail) + " record(s) from line " + std::to_string(signedUpTo + 1) +
               (lastCheckpointIdx == SIZE_MAX ? " (no checkpoint in the file)" : "") +
               ": written after the last checkpoint (the tunnel stopped without closing the file?)");
  }
  return s;
}

}  // namespace

Verification verifyAuditFiles(const std::vector<AuditFileText>& files, const VerifySignature& verifySignature) {
  Verification out;
  SignatureTally sigs;
  std::map<std::string, std::vector<FileSummary>> byNode;
  for (const auto& f : files) {
    out.files++;
    FileSummary s = checkFile(f, verifySignature, out, sigs);
    if (s.hasHeader) byNode[s.node].push_back(std::move(s));
  }
  if (sigs.good == 0 && !sigs.bad.empty()) {
    out.findings.push_back({Severity::Unverifiable, "", 0,
                            "no checkpoint signature verifies (" + std::to_string(sigs.bad.size()) +
                                " checked): not the key that signed these files?"});
  } else {
    for (auto& b : sigs.bad) out.findings.push_back(std::move(b));
  }
  for (auto& [node, list] : byNode) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.fileSeq < b.fileSeq; });
    if (list.front().fileSeq > 0 && list.front().anchor != kNoPreviousFile)
      out.findings.push_back({Severity::Note, list.front().text->name, 0,
                              "node " + node + ": chain checked from file " + std::to_string(list.front().fileSeq) +
                                  " (earlier files not given)"});
    for (size_t i = 1; i < list.size(); ++i) {
      const auto& before = list[i - 1];
      const auto& after = list[i];
      if (after.fileSeq == before.fileSeq) {
        out.findings.push_back(
            {Severity::Tampered, after.text->name, 0,
             "node " + node + ": file_seq " + std::to_string(after.fileSeq) + " also in " + before.text->name});
      } else if (after.fileSeq != before.fileSeq + 1) {
        out.findings.push_back(
            {Severity::Tampered, after.text->name, 0,
             "node " + node + ": file(s) " + std::to_string(before.fileSeq + 1) +
                 (after.fileSeq - before.fileSeq > 2 ? ".." + std::to_string(after.fileSeq - 1) : "") +
                 " missing between " + before.text->name + " and " + after.text->name});
      } else {
        const std::string& expected = before.lastCheckpoint.empty() ? before.headerHash : before.lastCheckpoint;
        if (after.anchor != expected)
          out.findings.push_back({Severity::Tampered, after.text->name, 1,
                                  "its header does not chain to the last checkpoint of " + before.text->name +
                                      ": that file's end was removed or replaced"});
      }
    }
  }
  return out;
}

}  // namespace warren::audit
