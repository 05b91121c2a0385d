#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/rate_limit.h"

namespace vigil {

struct SpoolOptions {
  std::string dir;
  // Cap on all segments; the oldest go first. The newest segment is never
  // deleted, so a record larger than a segment may overshoot it once.
  uint64_t max_bytes = 256ull << 20;
  uint64_t segment_bytes = 8ull << 20;  // a segment is closed once it reaches this size
  uint32_t max_record_bytes = 64u << 20;
  // True: closing a segment and creating one fsync the file and the
  // directory, and SyncThrough() makes records durable. False: records reach
  // the page cache only (they survive a process crash, not a power loss).
  bool durable = false;
};

struct SpoolRecord {
  uint64_t index = 0;
  uint32_t items = 0;  // what the writer said the record holds (events)
  std::string payload;
};

struct SpoolStats {
  uint64_t bytes = 0;
  uint64_t segments = 0;
  uint64_t first_index = 0;        // oldest record still on disk
  uint64_t next_index = 0;         // the index the next Append gets
  uint64_t corrupt_records = 0;    // checksum or framing wrong: skipped
  uint64_t truncated_records = 0;  // cut off at the end of a segment (crash mid-write): skipped
  uint64_t evicted_records = 0;    // not yet released, deleted because of the cap
  uint64_t evicted_items = 0;
};

// An append-only log of checksummed records in segment files
// (<dir>/<first index, 20 digits>.seg), numbered by a 64-bit index that only
// grows, also across reopening. Readers keep their own position and release
// what every one of them has consumed; whole segments are then deleted.
// Thread-safe.
//
// Record: magic u32 | payload length u32 | index u64 | items u32 | crc32 u32
// (zlib CRC-32 of the 16 bytes before it and the payload) | payload.
// A record whose checksum or framing is wrong is skipped and counted, at
// reopening and at reading; a record cut off at the end of the newest segment
// (a crash mid-write) is cut away at reopening.
class Spool {
 public:
  static absl::StatusOr<std::unique_ptr<Spool>> Open(const SpoolOptions& options);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Returns the record's index.
  absl::StatusOr<uint64_t> Append(absl::string_view payload, uint32_t items);
  // Returns once every record up to `index` is on stable storage (durable
  // spools; a no-op otherwise). Concurrent callers share one fdatasync.
  // A failed fdatasync reports a write error once: a later one succeeds
  // though the pages it could not write are gone. So the records it covered
  // may be lost for good, and syncing through one of them fails from then
  // on (MayBeLost), however later syncs fare.
  absl::Status SyncThrough(uint64_t index);
  // Whether `index` was appended but not durable when an fdatasync failed:
  // whoever holds its payload must store it again, not count on this copy.
  bool MayBeLost(uint64_t index) const;

  // Up to `max_records` records with index >= `from`, oldest first, stopping
  // at the first record that would exceed `max_bytes` of payload (at least
  // one record is returned when there is one). No record the spool holds is
  // left out between two it returns; only evicted or corrupt ones are.
  absl::StatusOr<std::vector<SpoolRecord>> Read(uint64_t from, size_t max_records, size_t max_bytes);

  // Every reader is done with records below `index`: segments holding only
  // such records are deleted (the newest segment always stays, it carries the
  // numbering).
  void Release(uint64_t index);

  // Numbering goes on at `index` or above, never lower: a reader that has
  // consumed indexes up to index - 1 (the uplink's acked file) must not see
  // them again for new records after a power loss cost the spool its tail.
  void SkipTo(uint64_t index);
  // The smallest index >= `from` the spool still holds, or next_index().
  uint64_t FirstIndexFrom(uint64_t from) const;

  SpoolStats Stats() const;
  uint64_t next_index() const;

 private:
  struct Ref {
    uint64_t index;
    uint64_t offset;
    uint32_t length;
    uint32_t items;
  };
  struct Segment {
    uint64_t first_index;
    std::string path;
    uint64_t size = 0;
    std::vector<Ref> refs = {};
  };

  explicit Spool(SpoolOptions options) : options_(std::move(options)) {}
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records below `min_index` (what earlier segments numbered) are corrupt.
  absl::Status Scan(Segment& segment, bool newest, uint64_t min_index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status NewSegment() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnforceCap() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An fdatasync that was to cover records up to `through` failed.
  void MarkLost(uint64_t through) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool MayBeLostLocked(uint64_t index) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeleteOldest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SpoolOptions options_;
  mutable absl::Mutex mu_;
  std::vector<Segment> segments_ ABSL_GUARDED_BY(mu_);  // oldest first; the last is written to
  int fd_ ABSL_GUARDED_BY(mu_) = -1;                    // the newest segment, O_APPEND
  uint64_t next_index_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t released_ ABSL_GUARDED_BY(mu_) = 0;  // records below are consumed
  uint64_t synced_ ABSL_GUARDED_BY(mu_) = 0;    // records up to here are durable
  bool syncing_ ABSL_GUARDED_BY(mu_) = false;
  // Records in [lost_from_, lost_to_] may be lost (MayBeLost); none while
  // lost_from_ is 0. Two failures make one range over both: a record synced
  // between them is then stored twice if resent, never acknowledged lost.
  uint64_t lost_from_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t lost_to_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t corrupt_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t truncated_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t evicted_records_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t evicted_items_ ABSL_GUARDED_BY(mu_) = 0;
  RateLimit evict_log_ ABSL_GUARDED_BY(mu_){absl::Seconds(10)};
};

}  // namespace vigil
