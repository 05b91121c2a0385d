#include "spool/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/rate_limit.h"
#include "common/status.h"

namespace vigil {

namespace {

constexpr uint32_t kMagic = 0x31534756;  // "VGS1"
constexpr size_t kHeaderBytes = 24;

struct Header {
  uint32_t magic;
  uint32_t length;
  uint64_t index;
  uint32_t items;
  uint32_t crc;
};

uint32_t Crc(const uint8_t* header16, const char* payload, size_t length) {
  uLong crc = crc32(0, header16, 16);
  return static_cast<uint32_t>(crc32(crc, reinterpret_cast<const Bytef*>(payload), static_cast<uInt>(length)));
}

void Encode(const Header& h, uint8_t* out) {
  std::memcpy(out, &h.magic, 4);
  std::memcpy(out + 4, &h.length, 4);
  std::memcpy(out + 8, &h.index, 8);
  std::memcpy(out + 16, &h.items, 4);
  std::memcpy(out + 20, &h.crc, 4);
}

Header Decode(const uint8_t* in) {
  Header h;
  std::memcpy(&h.magic, in, 4);
  std::memcpy(&h.length, in + 4, 4);
  std::memcpy(&h.index, in + 8, 8);
  std::memcpy(&h.items, in + 16, 4);
  std::memcpy(&h.crc, in + 20, 4);
  return h;
}

absl::Status ReadAll(const std::string& path, std::string& out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
  struct stat st {};
  fstat(fd, &st);
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  out.resize(done);
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", dir));
  const int r = fsync(fd);
  const int err = errno;
  close(fd);
  return r == 0 ? absl::OkStatus() : ErrnoStatus(err, absl::StrCat("fsync ", dir));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(const SpoolOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("spool directory is empty");
  if (options.segment_bytes < 4096 || options.segment_bytes * 2 > options.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("spool segment size ", options.segment_bytes,
                                                   " must be at least 4096 and at most half the cap (",
                                                   options.max_bytes, ")"));
  }
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create spool directory ", options.dir, ": ", ec.message()));
  std::unique_ptr<Spool> spool(new Spool(options));
  absl::MutexLock lock(&spool->mu_);
  if (absl::Status s = spool->Load(); !s.ok()) return s;
  return spool;
}

Spool::~Spool() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) {
    if (options_.durable) fdatasync(fd_);
    close(fd_);
  }
}

absl::Status Spool::Load() {
  std::vector<uint64_t> firsts;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir)) {
    const std::string name = entry.path().filename().string();
    uint64_t first = 0;
    if (name.size() == 24 && name.ends_with(".seg") && absl::SimpleAtoi(name.substr(0, 20), &first)) {
      firsts.push_back(first);
    }
  }
  std::sort(firsts.begin(), firsts.end());
  for (size_t i = 0; i < firsts.size(); ++i) {
    Segment seg{.first_index = firsts[i], .path = absl::StrFormat("%s/%020u.seg", options_.dir, firsts[i])};
    if (absl::Status s = Scan(seg, i + 1 == firsts.size(), next_index_); !s.ok()) return s;
    bytes_ += seg.size;
    next_index_ = std::max(next_index_, seg.refs.empty() ? seg.first_index : seg.refs.back().index + 1);
    segments_.push_back(std::move(seg));
  }
  if (segments_.empty()) return NewSegment();
  const std::string& path = segments_.back().path;
  fd_ = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
  synced_ = next_index_ - 1;  // what a previous run left is as durable as it gets
  return absl::OkStatus();
}

absl::Status Spool::Scan(Segment& seg, bool newest, uint64_t min_index) {
  std::string data;
  if (absl::Status s = ReadAll(seg.path, data); !s.ok()) return s;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  // Indexes only grow, across segments too: a record at or below one already
  // seen (a block the disk wrote twice, say) is corrupt even when its
  // checksum holds, or numbering would go backwards and Read()'s binary
  // search would see an unsorted segment.
  auto valid_at = [&](size_t off) {
    if (off + kHeaderBytes > data.size()) return false;
    const Header h = Decode(bytes + off);
    const uint64_t floor = std::max(seg.first_index, seg.refs.empty() ? min_index : seg.refs.back().index + 1);
    return h.magic == kMagic && h.length <= options_.max_record_bytes && off + kHeaderBytes + h.length <= data.size() &&
           h.index >= floor && Crc(bytes + off, data.data() + off + kHeaderBytes, h.length) == h.crc;
  };
  size_t off = 0;
  size_t valid_end = 0;
  bool cut = false;
  while (off + kHeaderBytes <= data.size()) {
    if (valid_at(off)) {
      const Header h = Decode(bytes + off);
      seg.refs.push_back(Ref{h.index, off, h.length, h.items});
      off += kHeaderBytes + h.length;
      valid_end = off;
      continue;
    }
    const Header h = Decode(bytes + off);
    // A well-framed header whose record runs past the end: cut off mid-write.
    if (h.magic == kMagic && h.length <= options_.max_record_bytes && off + kHeaderBytes + h.length > data.size()) {
      cut = true;
      break;
    }
    // Resynchronise on the next record whose checksum holds.
    size_t next = off + 1;
    while (next + kHeaderBytes <= data.size() && !valid_at(next)) ++next;
    // Count the records the damage took, not the damaged stretch: indexes
    // run on within a segment, so the next good record's index says how
    // many are gone (at most one per header's worth of bytes, should the
    // numbering have jumped there). One when nothing good follows.
    uint64_t lost = 1;
    if (next + kHeaderBytes <= data.size()) {
      const uint64_t expected = seg.refs.empty() ? seg.first_index : seg.refs.back().index + 1;
      const uint64_t found = Decode(bytes + next).index;
      if (found > expected)
        lost = std::min<uint64_t>(found - expected, std::max<size_t>(1, (next - off) / kHeaderBytes));
    }
    corrupt_ += lost;
    off = next;
  }
  // A partial header after the last good record is a cut-off write too.
  if (cut || (off == valid_end && valid_end < data.size())) ++truncated_;
  if (newest && valid_end < data.size()) {
    // Appends go after the last good record, not after garbage.
    if (truncate(seg.path.c_str(), static_cast<off_t>(valid_end)) != 0) {
      return ErrnoStatus(errno, absl::StrCat("truncate ", seg.path));
    }
    data.resize(valid_end);
  }
  seg.size = data.size();
  if (corrupt_ + truncated_ > 0) {
    Logger("spool")->warn("{}: {} corrupt and {} truncated records skipped so far", seg.path, corrupt_, truncated_);
  }
  return absl::OkStatus();
}

absl::Status Spool::NewSegment() {
  Segment seg{.first_index = next_index_, .path = absl::StrFormat("%s/%020u.seg", options_.dir, next_index_)};
  const int fd = open(seg.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("create ", seg.path));
  if (fd_ >= 0) {
    if (options_.durable && fdatasync(fd_) != 0) {
      const int err = errno;
      close(fd);
      MarkLost(next_index_ - 1);
      return ErrnoStatus(err, absl::StrCat("fdatasync ", segments_.back().path));
    }
    close(fd_);
    if (options_.durable) synced_ = next_index_ - 1;
  }
  fd_ = fd;
  if (options_.durable) {
    if (absl::Status s = SyncDir(options_.dir); !s.ok()) return s;
  }
  segments_.push_back(std::move(seg));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Spool::Append(absl::string_view payload, uint32_t items) {
  if (payload.size() > options_.max_record_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("spool record of ", payload.size(), " bytes exceeds ", options_.max_record_bytes));
  }
  absl::MutexLock lock(&mu_);
  if (segments_.back().size > 0 && segments_.back().size + kHeaderBytes + payload.size() > options_.segment_bytes) {
    if (absl::Status s = NewSegment(); !s.ok()) return s;
  }
  Header h{kMagic, static_cast<uint32_t>(payload.size()), next_index_, items, 0};
  uint8_t head[kHeaderBytes];
  Encode(h, head);
  h.crc = Crc(head, payload.data(), payload.size());
  Encode(h, head);
  iovec iov[2] = {{head, kHeaderBytes}, {const_cast<char*>(payload.data()), payload.size()}};
  const size_t total = kHeaderBytes + payload.size();
  const ssize_t n = writev(fd_, iov, 2);
  Segment& seg = segments_.back();
  if (n != static_cast<ssize_t>(total)) {
    const int err = n < 0 ? errno : ENOSPC;
    // Cut a partial record away so the next append starts clean.
    if (n > 0 && ftruncate(fd_, static_cast<off_t>(seg.size)) != 0) {
      Logger("spool")->error("cannot cut a partial record from {}: {}", seg.path, std::strerror(errno));
    }
    return ErrnoStatus(err, absl::StrCat("write ", seg.path));
  }
  seg.refs.push_back(Ref{next_index_, seg.size, h.length, items});
  seg.size += total;
  bytes_ += total;
  const uint64_t index = next_index_++;
  EnforceCap();
  return index;
}

void Spool::MarkLost(uint64_t through) {
  if (through <= synced_) return;
  lost_from_ = lost_from_ == 0 ? synced_ + 1 : std::min(lost_from_, synced_ + 1);
  lost_to_ = std::max(lost_to_, through);
  Logger("spool")->error("fdatasync failed: records {} to {} may not be on disk, and are never reported durable",
                         lost_from_, lost_to_);
}

bool Spool::MayBeLostLocked(uint64_t index) const {
  return lost_from_ != 0 && index >= lost_from_ && index <= lost_to_;
}

bool Spool::MayBeLost(uint64_t index) const {
  absl::MutexLock lock(&mu_);
  return MayBeLostLocked(index);
}

absl::Status Spool::SyncThrough(uint64_t index) {
  if (!options_.durable) return absl::OkStatus();
  mu_.Lock();
  for (;;) {
    if (MayBeLostLocked(index)) {
      mu_.Unlock();
      return absl::DataLossError(absl::StrCat("spool record ", index, " may be lost: a sync that covered it failed"));
    }
    if (synced_ >= index) break;
    if (syncing_) {
      mu_.Await(absl::Condition(
          +[](bool* syncing) { return !*syncing; }, &syncing_));
      continue;
    }
    // One fdatasync for everything appended so far; others wait for it.
    syncing_ = true;
    const uint64_t target = next_index_ - 1;
    const int fd = dup(fd_);
    mu_.Unlock();
    const int r = fd < 0 ? -1 : fdatasync(fd);
    const int err = errno;
    if (fd >= 0) close(fd);
    mu_.Lock();
    syncing_ = false;
    if (r != 0) {
      // fdatasync writes every dirty page of the file, also of records
      // appended after `target`, and reports background writeback's errors:
      // any record appended so far may be lost. (A failed dup() wrote
      // nothing and lost nothing.)
      if (fd >= 0) MarkLost(next_index_ - 1);
      mu_.Unlock();
      return ErrnoStatus(err, "fdatasync spool");
    }
    synced_ = std::max(synced_, target);
  }
  mu_.Unlock();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SpoolRecord>> Spool::Read(uint64_t from, size_t max_records, size_t max_bytes) {
  // Which records, decided under the lock; read without it, so appends (the
  // collector's ingest) never wait for a reader's disk reads.
  std::vector<std::pair<std::string, std::vector<Ref>>> plan;
  {
    absl::MutexLock lock(&mu_);
    size_t records = 0;
    size_t bytes = 0;
    auto seg = std::upper_bound(segments_.begin(), segments_.end(), from,
                                [](uint64_t i, const Segment& s) { return i < s.first_index; });
    if (seg != segments_.begin()) --seg;
    // The read ends at the first record that does not fit, in whichever
    // segment: a smaller one after it would leave a gap, and readers take
    // what they get as everything up to its last index.
    bool full = false;
    for (; seg != segments_.end() && !full; ++seg) {
      auto ref = std::lower_bound(seg->refs.begin(), seg->refs.end(), from,
                                  [](const Ref& r, uint64_t i) { return r.index < i; });
      std::vector<Ref> refs;
      for (; ref != seg->refs.end(); ++ref) {
        if (records == max_records || (records > 0 && bytes + ref->length > max_bytes)) {
          full = true;
          break;
        }
        bytes += ref->length;
        ++records;
        refs.push_back(*ref);
      }
      if (!refs.empty()) plan.emplace_back(seg->path, std::move(refs));
    }
  }
  std::vector<SpoolRecord> out;
  std::vector<uint64_t> corrupt;
  for (const auto& [path, refs] : plan) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) continue;  // released or evicted meanwhile (evictions are counted)
    if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
    for (const Ref& ref : refs) {
      // The header and the payload in one read, each where it belongs.
      uint8_t head[kHeaderBytes];
      std::string payload(ref.length, '\0');
      iovec parts[2] = {{head, kHeaderBytes}, {payload.data(), payload.size()}};
      const ssize_t n = preadv(fd, parts, 2, static_cast<off_t>(ref.offset));
      if (n != static_cast<ssize_t>(kHeaderBytes + payload.size()) ||
          Crc(head, payload.data(), ref.length) != Decode(head).crc) {
        corrupt.push_back(ref.index);  // changed on disk since it was written or scanned
        continue;
      }
      out.push_back(SpoolRecord{ref.index, ref.items, std::move(payload)});
    }
    close(fd);
  }
  if (!corrupt.empty()) {
    // Forgotten, so that it is skipped and counted once, whoever reads next.
    absl::MutexLock lock(&mu_);
    for (uint64_t index : corrupt) {
      for (Segment& seg : segments_) {
        auto ref = std::lower_bound(seg.refs.begin(), seg.refs.end(), index,
                                    [](const Ref& r, uint64_t i) { return r.index < i; });
        if (ref == seg.refs.end() || ref->index != index) continue;
        seg.refs.erase(ref);
        ++corrupt_;
        break;
      }
    }
  }
  return out;
}

void Spool::Release(uint64_t index) {
  absl::MutexLock lock(&mu_);
  released_ = std::max(released_, index);
  while (segments_.size() > 1 && segments_[1].first_index <= released_) DeleteOldest();
}

void Spool::EnforceCap() {
  while (bytes_ > options_.max_bytes && segments_.size() > 1) {
    const Segment& old = segments_.front();
    for (const Ref& r : old.refs) {
      if (r.index < released_) continue;
      ++evicted_records_;
      evicted_items_ += r.items;
    }
    DeleteOldest();
    if (uint64_t held; evict_log_.Allow(held)) {
      Logger("spool")->warn("{}: cap of {} bytes reached, oldest data deleted: {} records ({} items) lost so far",
                            options_.dir, options_.max_bytes, evicted_records_, evicted_items_);
    }
  }
}

void Spool::DeleteOldest() {
  const Segment& old = segments_.front();
  if (unlink(old.path.c_str()) != 0) {
    Logger("spool")->error("cannot delete {}: {}", old.path, std::strerror(errno));
  }
  bytes_ -= old.size;
  released_ = std::max(released_, segments_[1].first_index);
  segments_.erase(segments_.begin());
}

SpoolStats Spool::Stats() const {
  absl::MutexLock lock(&mu_);
  return SpoolStats{.bytes = bytes_,
                    .segments = segments_.size(),
                    .first_index = segments_.front().refs.empty() ? segments_.front().first_index
                                                                  : segments_.front().refs.front().index,
                    .next_index = next_index_,
                    .corrupt_records = corrupt_,
                    .truncated_records = truncated_,
                    .evicted_records = evicted_records_,
                    .evicted_items = evicted_items_};
}

void Spool::SkipTo(uint64_t index) {
  absl::MutexLock lock(&mu_);
  if (index <= next_index_) return;
  Logger("spool")->warn("{}: numbering resumes at {}, after {} (records lost before they were synced)", options_.dir,
                        index, next_index_ - 1);
  next_index_ = index;
}

uint64_t Spool::FirstIndexFrom(uint64_t from) const {
  absl::MutexLock lock(&mu_);
  for (const Segment& seg : segments_) {
    auto ref =
        std::lower_bound(seg.refs.begin(), seg.refs.end(), from, [](const Ref& r, uint64_t i) { return r.index < i; });
    if (ref != seg.refs.end()) return ref->index;
  }
  return next_index_;
}

uint64_t Spool::next_index() const {
  absl::MutexLock lock(&mu_);
  return next_index_;
}

}  // namespace vigil
