#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "collector/forwarder.h"

namespace vigil::collector {

// The `file` forwarder (JSON lines, rotated by size: <path>, <path>.1, ...
// <path>.<max_files - 1>, oldest last) and the `stdout` forwarder (path "-").
// Lines are the protobuf JSON mapping of vigil.v1.Event, as the sensor's own
// --output writes them.
class JsonLinesForwarder : public Forwarder {
 public:
  static absl::StatusOr<std::unique_ptr<JsonLinesForwarder>> Open(std::string name, std::string path,
                                                                  uint64_t max_bytes, uint32_t max_files);
  ~JsonLinesForwarder() override;

  const std::string& name() const override { return name_; }
  // Written to the file (the page cache) before it returns: a collector
  // crash after it cannot lose them.
  absl::Status Send(absl::Span<const v1::Event* const> events) override;
  // The lines straight from the serialized events (AppendJsonFromWire),
  // identical to Send's; an event that is not as protobuf would have
  // serialized it is parsed first, and one that does not parse is skipped
  // with an error logged.
  bool TakesSerialized() const override { return true; }
  absl::Status SendSerialized(absl::Span<const absl::string_view> events) override;

 private:
  // Writes buffer_ and empties it, rotating first when it would pass
  // max_bytes; WriteAndSync then syncs what this send wrote.
  absl::Status WritePiece();
  absl::Status WriteAndSync();
  absl::Status Sync();
  JsonLinesForwarder(std::string name, std::string path, uint64_t max_bytes, uint32_t max_files)
      : name_(std::move(name)), path_(std::move(path)), max_bytes_(max_bytes), max_files_(max_files) {}
  absl::Status OpenFile();
  absl::Status Rotate();

  const std::string name_;
  const std::string path_;
  const uint64_t max_bytes_;
  const uint32_t max_files_;
  int fd_ = -1;
  uint64_t size_ = 0;
  bool unsynced_ = false;  // written since the last fdatasync
  std::string buffer_;
};

}  // namespace vigil::collector
