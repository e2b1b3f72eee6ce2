#pragma once
// The audit log's writer: records go through a bounded queue to one thread that
// owns the files, so the data path never waits on the disk. It builds each line
// of the hash chain (audit/chain.h), signs checkpoints, rotates files and keeps
// count of what it could not write.
//
// Files: <dir>/<node>-<file_seq, 8 digits>.audit.jsonl, and <dir>/audit-pub.pem
// (the public half of the signing key, for `warrenctl audit verify --key`).
// A started writer never truncates a file: it starts file_seq+1 of the newest
// file it finds, anchored to that file's last checkpoint (read back).
//
// Durability: records are taken from the queue in batches (those that arrive
// within `batchWindow` of the first) and each batch is written with one
// write(2) (a crash of the process loses only what is still queued);
// fdatasync(2) after every checkpoint, which comes after `checkpointRecords`
// records or `checkpointInterval`, whichever first, and when a file is closed
// (rotation by size or age, shutdown). A crash of the node loses at most what
// came after the last checkpoint; `verify` reports that as an unsigned tail.
//
// A write that fails (ENOSPC, EIO) is undone (ftruncate to the last whole
// line), logged once until writing works again, counted, and its records are
// counted as dropped; the next line written is a "gap" record with their count.
// Records refused because the queue is full are counted and recorded the same way.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "audit/chain.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "ossl/ossl.h"

namespace warren::audit {

struct AuditWriterOptions {
  std::string dir;
  std::string node;                                    // names the files and the header
  uint64_t maxBytes = 64ull << 20;                     // --audit-max-bytes: rotate past this
  std::chrono::seconds maxAge{3600};                   // --audit-max-age: rotate a file holding records this old
  uint64_t checkpointRecords = 1000;                   // a checkpoint after this many lines...
  std::chrono::milliseconds checkpointInterval{5000};  // ...or this long after the first unsigned one
  size_t queueCapacity = 65536;                        // records waiting for the writer thread
  // Records that arrive within this long of a batch's first one ride in it: one
  // wake-up of the writer and one write(2) for them all, not one per record (per
  // connection, on the data path's cores). 0: a batch as soon as a record arrives.
  std::chrono::milliseconds batchWindow{20};
  size_t batchWake = 1024;  // ...or as soon as this many wait
};

struct AuditCounters {
  std::atomic<uint64_t> records{0};      // records written (conn, request, cert, capture)
  std::atomic<uint64_t> dropped{0};      // not written: queue full or a write error
  std::atomic<uint64_t> writeErrors{0};  // failed writes (each may drop a batch)
};

class AuditWriter {
 public:
  // Opens the directory, writes the public key and the first file's header, and
  // starts the thread. `key` signs the checkpoints (EC P-256).
  //
  // One writer per node name in a directory at a time: it holds an flock on
  // DIR/.<node>.lock. A second writer of the same name meanwhile (the tunnel a
  // rolling update starts beside the draining one; two binaries given the same
  // --audit-node) would interleave two chains in one sequence of files, which
  // verify rightly calls tampered; it writes as "<node>~2" instead (then ~3, ...),
  // a chain of its own that the next writer of that name continues.
  static Result<std::unique_ptr<AuditWriter>> start(AuditWriterOptions opts, ossl::EvpPkeyPtr key);
  // Closes the file with a final checkpoint (and fdatasync), joins the thread.
  ~AuditWriter();
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;

  // A record's fields (JSON members, no braces). Any thread; never blocks on
  // I/O; counted as dropped when the queue is full.
  void submit(RecordType type, std::string fields);
  void submit(std::string fields) { submit(RecordType::Conn, std::move(fields)); }

  const AuditCounters& counters() const { return counters_; }
  // The node name in the files: the one asked for, or "<node>~N" (see start()).
  const std::string& node() const { return opts_.node; }
  // The file being written ("" when none is open: the disk refused the last one).
  std::string currentFile() const;

 private:
  AuditWriter(AuditWriterOptions opts, ossl::EvpPkeyPtr key);
  void run();
  struct Queued {
    RecordType type;
    std::string fields;
  };
  uint64_t writeBatch(std::deque<Queued>& batch);  // the records written
  bool checkpoint(bool final);
  bool openNext();
  void closeFile();
  void maintain(bool stopping);
  bool writeAll(const std::string& bytes);
  void writeFailed(int err, uint64_t droppedRecords);
  std::string path(uint64_t fileSeq) const;

  const AuditWriterOptions opts_;
  ossl::EvpPkeyPtr key_;
  UniqueFd nodeLock_;  // the flock on DIR/.<node>.lock, held while this writes
  AuditCounters counters_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Queued> queue_;
  bool stop_ = false;
  bool idle_ = false;             // the writer waits for a first record (submit() wakes it)
  bool queueOverflowed_ = false;  // since the last gap record
  uint64_t pendingGap_ = 0;       // records lost and not yet recorded in a gap record
  std::string currentPath_;       // under mu_ (read by currentFile())

  // The writer thread's own.
  UniqueFd fd_;
  uint64_t fileSeq_ = 0;  // of the open file, or of the last one closed
  std::string anchor_;    // the next file's header prev: the last checkpoint line's hash
  ChainHead head_;
  uint64_t size_ = 0;  // bytes of whole lines in the open file
  uint64_t recordsInFile_ = 0, unsigned_ = 0;
  std::chrono::steady_clock::time_point opened_, lastCheckpoint_;
  std::string gapReason_;
  bool failing_ = false;  // a write failed and none has worked since (logged once)

  std::thread thread_;
};

}  // namespace warren::audit
