#include "audit/audit_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "audit/signing_key.h"
#include "audit/verify.h"
#include "common/file_io.h"

namespace warren::audit {

namespace {
constexpr std::string_view kSuffix = ".audit.jsonl";

// The file_seq in "<node>-NNNNNNNN.audit.jsonl", if `name` is one of this node's files.
std::optional<uint64_t> fileSeqOf(const std::string& name, const std::string& node) {
  const std::string prefix = node + "-";
  if (!name.starts_with(prefix) || !name.ends_with(kSuffix)) return std::nullopt;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - kSuffix.size());
  if (digits.size() != 8 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(digits);
}

// What a new file anchors to: the hash of the last checkpoint line of `content`
// (the newest file, as a previous run left it), or of its header when it has no
// checkpoint (the run died before its first one). Its unsigned tail stays as it
// is: `verify` reports it.
std::string anchorAfter(std::string_view content) {
  const AuditFileText text = splitAuditFile("", content);
  std::string anchor;
  for (size_t i = 0; i < text.lines.size(); ++i) {
    if (i + 1 == text.lines.size() && !text.lastLineComplete) break;
    auto j = nlohmann::json::parse(text.lines[i], nullptr, false);
    if (!j.is_object()) continue;
    if ((i == 0 && j.value("type", "") == "header") || j.value("type", "") == "checkpoint")
      anchor = sha256Hex(text.lines[i]);
  }
  return anchor.empty() ? std::string(kNoPreviousFile) : anchor;
}

std::string now() { return utcTimestamp(std::chrono::system_clock::now()); }

constexpr int kMaxWritersPerNode = 16;

// The first of "<node>", "<node>~2", ... whose lock no live writer holds, and that
// lock, held (it goes with the process: a crashed writer leaves nothing to clean).
Result<std::pair<std::string, UniqueFd>> lockNodeName(const std::string& dir, const std::string& node) {
  for (int n = 1; n <= kMaxWritersPerNode; ++n) {
    const std::string name = n == 1 ? node : node + "~" + std::to_string(n);
    const std::string path = dir + "/." + name + ".lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) return makeError("audit: " + path + ": " + std::strerror(errno));
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return std::make_pair(name, std::move(fd));
    if (errno != EWOULDBLOCK) return makeError("audit: lock " + path + ": " + std::strerror(errno));
  }
  return makeError("audit: " + std::to_string(kMaxWritersPerNode) + " writers already write node " + node +
                   "'s files in " + dir);
}
}  // namespace

AuditWriter::AuditWriter(AuditWriterOptions opts, ossl::EvpPkeyPtr key)
    : opts_(std::move(opts)), key_(std::move(key)) {}

Result<std::unique_ptr<AuditWriter>> AuditWriter::start(AuditWriterOptions opts, ossl::EvpPkeyPtr key) {
  std::error_code ec;
  std::filesystem::create_directories(opts.dir, ec);
  if (ec) return makeError("audit directory " + opts.dir + ": " + ec.message());
  auto pub = publicKeyPem(key.get());
  if (!pub) return pub.error();
  if (auto st = writeFileAtomic(opts.dir + "/audit-pub.pem", *pub, 0644); !st) return st.error();
  auto lock = lockNodeName(opts.dir, opts.node);
  if (!lock) return lock.error();
  if (lock->first != opts.node)
    spdlog::warn("audit: another writer holds node {}'s files in {}; writing as {}", opts.node, opts.dir, lock->first);
  opts.node = lock->first;
  std::unique_ptr<AuditWriter> w(new AuditWriter(std::move(opts), std::move(key)));
  w->nodeLock_ = std::move(lock->second);
  // Continue after the newest file of this node: never reopen or truncate it.
  std::optional<uint64_t> newest;
  for (const auto& entry : std::filesystem::directory_iterator(w->opts_.dir, ec)) {
    auto seq = fileSeqOf(entry.path().filename().string(), w->opts_.node);
    if (seq && (!newest || *seq > *newest)) newest = seq;
  }
  if (ec) return makeError("audit directory " + w->opts_.dir + ": " + ec.message());
  w->anchor_ = std::string(kNoPreviousFile);
  if (newest) {
    auto content = readFile(w->path(*newest));
    if (!content) return content.error();
    w->anchor_ = anchorAfter(*content);
    w->fileSeq_ = *newest + 1;
    spdlog::info("audit: continuing after {} (file {})", w->path(*newest), *newest);
  }
  if (!w->openNext()) return makeError("audit: cannot start " + w->path(w->fileSeq_) + " (see the log)");
  w->thread_ = std::thread([p = w.get()] { p->run(); });
  return w;
}

AuditWriter::~AuditWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void AuditWriter::submit(RecordType type, std::string fields) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= opts_.queueCapacity) {
      queueOverflowed_ = true;
      counters_.dropped++;
      pendingGap_++;  // guarded by mu_ here; the writer reads it under mu_ too
      return;
    }
    queue_.push_back({type, std::move(fields)});
    // Wake the writer for a batch's first record, and when a batch fills; the
    // records between ride along without a wake-up each.
    if (!(idle_ && queue_.size() == 1) && queue_.size() != opts_.batchWake) return;
  }
  wake_.notify_one();
}

std::string AuditWriter::currentFile() const {
  std::lock_guard lock(mu_);
  return currentPath_;
}

std::string AuditWriter::path(uint64_t fileSeq) const {
  char digits[16];
  std::snprintf(digits, sizeof(digits), "%08llu", static_cast<unsigned long long>(fileSeq));
  return opts_.dir + "/" + opts_.node + "-" + digits + std::string(kSuffix);
}

void AuditWriter::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    // Wake for records, for the checkpoint interval, and to retry a pending gap.
    idle_ = true;
    wake_.wait_for(lock, opts_.checkpointInterval, [this] { return stop_ || !queue_.empty(); });
    idle_ = false;
    // Gather the records that follow the first for a while: one write for them all.
    if (!stop_ && !queue_.empty() && opts_.batchWindow.count() > 0)
      wake_.wait_for(lock, opts_.batchWindow, [this] { return stop_ || queue_.size() >= opts_.batchWake; });
    std::deque<Queued> batch;
    batch.swap(queue_);
    const bool stopping = stop_;
    if (queueOverflowed_) {
      gapReason_ = "the audit queue was full (" + std::to_string(opts_.queueCapacity) + " records)";
      queueOverflowed_ = false;
    }
    lock.unlock();
    const uint64_t written = writeBatch(batch);
    maintain(stopping);
    // Counted once the turn is done, the checkpoint it owed included: whoever sees
    // the count (a metric scrape, a test, an auditor's check) finds those records
    // signed when the count says a checkpoint was due.
    counters_.records += written;
    if (stopping) return;
    lock.lock();
  }
}

bool AuditWriter::writeAll(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      // Undo a partial write: the file ends at its last whole line. ftruncate
      // needs no free space.
      if (done > 0 && ::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0)
        spdlog::error("audit: cannot cut {} back to its last whole line: {}", currentPath_, std::strerror(errno));
      errno = err;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  size_ += bytes.size();
  return true;
}

void AuditWriter::writeFailed(int err, uint64_t droppedRecords) {
  counters_.writeErrors++;
  counters_.dropped += droppedRecords;
  gapReason_ = std::string("write error: ") + std::strerror(err);
  if (!failing_)
    spdlog::error(
        "audit: writing {} failed: {}; records are counted as dropped "
        "(warren_tunnel_audit_dropped_total) and a gap record is written when writing works again",
        currentPath_.empty() ? opts_.dir : currentPath_, std::strerror(err));
  failing_ = true;
}

uint64_t AuditWriter::writeBatch(std::deque<Queued>& batch) {
  uint64_t gap;
  {
    std::lock_guard lock(mu_);
    gap = pendingGap_;
  }
  if (batch.empty() && gap == 0) return 0;
  if (!fd_ && !openNext()) {
    if (!batch.empty()) {
      std::lock_guard lock(mu_);
      pendingGap_ += batch.size();
    }
    counters_.dropped += batch.size();
    return 0;
  }
  const ChainHead saved = head_;
  std::string bytes;
  if (gap) bytes += chainLine(head_, "gap", gapFields(gap, gapReason_, now())) + '\n';
  for (const auto& q : batch) bytes += chainLine(head_, recordTypeName(q.type), q.fields) + '\n';
  if (!writeAll(bytes)) {
    const int err = errno;
    head_ = saved;
    {
      std::lock_guard lock(mu_);
      pendingGap_ += batch.size();
    }
    writeFailed(err, batch.size());
    return 0;
  }
  {
    std::lock_guard lock(mu_);
    pendingGap_ -= gap;  // submit() may have added more meanwhile
  }
  if (failing_) spdlog::info("audit: writing {} works again; {} record(s) lost, recorded as a gap", currentPath_, gap);
  failing_ = false;
  recordsInFile_ += batch.size();
  unsigned_ += batch.size() + (gap ? 1 : 0);
  if (unsigned_ == batch.size() + (gap ? 1 : 0)) lastCheckpoint_ = std::chrono::steady_clock::now();
  return batch.size();
}

void AuditWriter::maintain(bool stopping) {
  if (!fd_) return;
  const auto t = std::chrono::steady_clock::now();
  const bool rotate = size_ >= opts_.maxBytes || (recordsInFile_ > 0 && t - opened_ >= opts_.maxAge);
  if (stopping || rotate) {
    if (!checkpoint(true)) return;  // stays open: the next turn tries again
    closeFile();
    if (!stopping) openNext();
    return;
  }
  if (unsigned_ >= opts_.checkpointRecords || (unsigned_ > 0 && t - lastCheckpoint_ >= opts_.checkpointInterval))
    checkpoint(false);
}

bool AuditWriter::checkpoint(bool final) {
  const ChainHead saved = head_;
  auto line = checkpointLine(head_, checkpointFields(recordsInFile_, final, now()),
                             [this](std::string_view m) { return sign(key_.get(), m); });
  if (!line) {
    head_ = saved;
    spdlog::error("audit: {}", line.error().message);
    return false;
  }
  if (!writeAll(*line + '\n')) {
    const int err = errno;
    head_ = saved;
    writeFailed(err, 0);
    return false;
  }
  if (::fdatasync(fd_.get()) != 0) {
    writeFailed(errno, 0);
    return false;
  }
  anchor_ = head_.prev;
  unsigned_ = 0;
  lastCheckpoint_ = std::chrono::steady_clock::now();
  return true;
}

bool AuditWriter::openNext() {
  const std::string p = path(fileSeq_);
  UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640));
  if (!fd) {
    writeFailed(errno, 0);
    return false;
  }
  fd_ = std::move(fd);
  {
    std::lock_guard lock(mu_);
    currentPath_ = p;
  }
  size_ = 0;
  head_ = startChain(anchor_);
  const std::string header = chainLine(head_, "header", headerFields(opts_.node, fileSeq_, now())) + '\n';
  if (!writeAll(header)) {
    // Nothing of it is worth keeping: the next attempt makes it again.
    const int err = errno;
    fd_.reset();
    ::unlink(p.c_str());
    std::lock_guard lock(mu_);
    currentPath_.clear();
    writeFailed(err, 0);
    return false;
  }
  // The new name must survive a crash as well as its lines: sync the directory.
  UniqueFd dir(::open(opts_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) ::fsync(dir.get());
  recordsInFile_ = 0;
  unsigned_ = 0;  // the header alone waits for the first record's checkpoint, or the close
  opened_ = lastCheckpoint_ = std::chrono::steady_clock::now();
  return true;
}

void AuditWriter::closeFile() {
  fd_.reset();
  fileSeq_++;
  std::lock_guard lock(mu_);
  currentPath_.clear();
}

}  // namespace warren::audit
