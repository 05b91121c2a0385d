#include "collector/json_lines_forwarder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/rate_limit.h"
#include "common/status.h"
#include "google/protobuf/descriptor.h"
#include "sink/json_encoder.h"
#include "sink/json_lines_sink.h"

namespace vigil::collector {

absl::StatusOr<std::unique_ptr<JsonLinesForwarder>> JsonLinesForwarder::Open(std::string name, std::string path,
                                                                             uint64_t max_bytes, uint32_t max_files) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("forwarder ", name, ": no output path"));
  if (max_files < 1) return absl::InvalidArgumentError(absl::StrCat("forwarder ", name, ": max files must be >= 1"));
  std::unique_ptr<JsonLinesForwarder> f(new JsonLinesForwarder(std::move(name), std::move(path), max_bytes, max_files));
  if (absl::Status s = f->OpenFile(); !s.ok()) return s;
  return f;
}

JsonLinesForwarder::~JsonLinesForwarder() {
  if (fd_ > 2) close(fd_);
}

absl::Status JsonLinesForwarder::OpenFile() {
  if (path_ == "-") {
    fd_ = STDOUT_FILENO;
    return absl::OkStatus();
  }
  // 0600: every command line of every node is in it.
  fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) return ErrnoStatus(errno, absl::StrCat("open ", path_));
  struct stat st {};
  fstat(fd_, &st);
  size_ = static_cast<uint64_t>(st.st_size);
  return absl::OkStatus();
}

absl::Status JsonLinesForwarder::Rotate() {
  // Lines of this send may already be in the file rotated away.
  if (absl::Status s = Sync(); !s.ok()) return s;
  close(fd_);
  fd_ = -1;
  for (uint32_t i = max_files_ - 1; i >= 1; --i) {
    const std::string from = i == 1 ? path_ : absl::StrCat(path_, ".", i - 1);
    const std::string to = absl::StrCat(path_, ".", i);
    if (std::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, absl::StrCat("rotate ", from));
    }
  }
  if (max_files_ == 1) unlink(path_.c_str());
  return OpenFile();
}

// Lines go to the file in pieces of about this size rather than a whole
// read of the spool at once (4 MiB of events, twice that in JSON): a piece
// is still in the CPU's cache when write() copies it into the page cache.
constexpr size_t kWritePiece = 256u << 10;

absl::Status JsonLinesForwarder::Send(absl::Span<const v1::Event* const> events) {
  buffer_.clear();
  for (const v1::Event* e : events) {
    if (absl::Status s = AppendJsonLine(*e, buffer_); !s.ok()) return s;
    if (buffer_.size() >= kWritePiece) {
      if (absl::Status s = WritePiece(); !s.ok()) return s;
    }
  }
  return WriteAndSync();
}

absl::Status JsonLinesForwarder::SendSerialized(absl::Span<const absl::string_view> events) {
  buffer_.clear();
  v1::Event parsed;
  const google::protobuf::Descriptor* type = v1::Event::descriptor();
  for (absl::string_view bytes : events) {
    if (AppendJsonFromWire(type, bytes, buffer_)) {
      buffer_ += '\n';
    } else if (parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      if (absl::Status s = AppendJsonLine(parsed, buffer_); !s.ok()) return s;
    } else {
      static RateLimit limit(absl::Seconds(10));
      if (uint64_t held; limit.Allow(held)) {
        Logger("collector")
            ->error("forwarder {}: a spooled event does not parse; skipped ({} more since)", name_, held);
      }
    }
    if (buffer_.size() >= kWritePiece) {
      if (absl::Status s = WritePiece(); !s.ok()) return s;
    }
  }
  return WriteAndSync();
}

absl::Status JsonLinesForwarder::WritePiece() {
  if (fd_ < 0) {
    if (absl::Status s = OpenFile(); !s.ok()) return s;
  }
  if (path_ != "-" && size_ > 0 && size_ + buffer_.size() > max_bytes_) {
    if (absl::Status s = Rotate(); !s.ok()) return s;
  }
  size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      // Part of the events was written: the retry repeats those lines,
      // which their event ids identify.
      size_ += done;
      unsynced_ = unsynced_ || done > 0;
      return ErrnoStatus(err, absl::StrCat("write ", path_));
    }
    done += static_cast<size_t>(n);
  }
  size_ += done;
  unsynced_ = unsynced_ || done > 0;
  buffer_.clear();
  return absl::OkStatus();
}

absl::Status JsonLinesForwarder::WriteAndSync() {
  if (absl::Status s = WritePiece(); !s.ok()) return s;
  return Sync();
}

absl::Status JsonLinesForwarder::Sync() {
  // OK moves the collector's cursor past these events, and the spool may
  // then delete them: they must be on disk first, not in the page cache.
  if (path_ == "-" || !unsynced_) return absl::OkStatus();
  if (fdatasync(fd_) != 0) return ErrnoStatus(errno, absl::StrCat("fdatasync ", path_));
  unsynced_ = false;
  return absl::OkStatus();
}

}  // namespace vigil::collector
