#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "pipeline/stage.h"

namespace vigil {

// Appends `event` in the protobuf JSON mapping and a newline to `line`: the
// one encoding of every JSON-lines output (sensor file, collector forwarders).
absl::Status AppendJsonLine(const v1::Event& event, std::string& line);

// One JSON object per line, in the protobuf JSON mapping of vigil.v1.Event,
// to stdout ("-") or a file (appended to).
class JsonLinesSink : public Sink {
 public:
  static absl::StatusOr<std::unique_ptr<JsonLinesSink>> Open(const std::string& path);
  ~JsonLinesSink() override;

  absl::Status Write(const v1::Event& event) override;
  absl::Status Flush() override;
  void Report(std::vector<StageReport>& out) const override;

 private:
  JsonLinesSink(UniqueFd file, std::string path);
  absl::Status WritePending();

  UniqueFd file_;  // none: stdout
  std::string path_;
  std::string pending_;  // lines not yet handed to stdio
  uint64_t pending_events_ = 0;
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> errors_{0};
};

}  // namespace vigil
