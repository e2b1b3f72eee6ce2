#pragma once
// The audit log's hash chain, without I/O: how each line is built from the one
// before it. A file is one JSON object a line:
//
//   {"seq":0,"prev":<anchor>,"type":"header","node":..,"file_seq":K,...}
//   {"seq":1,"prev":sha256(line 0),"type":"conn",...}
//   ...
//   {"seq":N,"prev":sha256(line N-1),"type":"checkpoint",...,"sig":"<hex DER>"}
//
// `prev` is the SHA-256 (hex) of the previous line's bytes without its newline;
// the header's `prev` is the anchor: the hash of the previous file's last
// checkpoint line (64 zeros for a node's first file), so files chain too. A
// checkpoint's signature (ECDSA P-256, SHA-256) covers the line's bytes up to
// `,"sig":`, so it signs the chain head (its `prev`) and its own fields.
// The field order is fixed and each record type keeps its fields: reports read
// them by name (README "Audit evidence").

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace warren::audit {

// The anchor of a node's first file: no file before it.
inline constexpr std::string_view kNoPreviousFile = "0000000000000000000000000000000000000000000000000000000000000000";

std::string sha256Hex(std::string_view bytes);

// Where a file's chain stands: the sequence number the next line gets and the
// hash of the line before it.
struct ChainHead {
  uint64_t seq = 0;
  std::string prev;
};

// A file's first chain state: seq 0, anchored at `anchor`.
ChainHead startChain(std::string_view anchor);

// One line (no newline) of type `type` with `fields` (JSON members without braces,
// "" for none); advances `head` past it.
std::string chainLine(ChainHead& head, std::string_view type, std::string_view fields);

// Signs `message` (the checkpoint's bytes up to `,"sig":`): DER bytes.
using SignFn = std::function<Result<std::string>(std::string_view message)>;

// A checkpoint line: `fields`, then the signature over everything before it.
Result<std::string> checkpointLine(ChainHead& head, std::string_view fields, const SignFn& sign);

// The checkpoint's signed bytes and its signature (DER, decoded from hex); false
// when the line does not end in a signature.
bool splitSignature(std::string_view line, std::string_view& signedPart, std::string& der);

// The record types a writer chains besides header, checkpoint and gap: a
// connection (the tunnel), an HTTP request a waypoint decided, a workload
// certificate event, a change of a pod's capture (the agent). Readers that do
// not know a type skip it; verify counts every one as a record.
enum class RecordType { Conn, Request, Cert, Capture };
std::string_view recordTypeName(RecordType t);

// Members of the header, checkpoint and gap records (JSON, no braces).
std::string headerFields(std::string_view node, uint64_t fileSeq, std::string_view time);
std::string checkpointFields(uint64_t records, bool final, std::string_view time);
std::string gapFields(uint64_t dropped, std::string_view reason, std::string_view time);

// "2026-12-06T21:44:21.123Z"
std::string utcTimestamp(std::chrono::system_clock::time_point t);

// Hex of bytes and back ("" on odd length or a non-hex digit).
std::string toHex(std::string_view bytes);
std::string fromHex(std::string_view hex);

}  // namespace warren::audit
