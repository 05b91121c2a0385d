#include "sink/json_lines_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "google/protobuf/util/json_util.h"
#include "sink/json_encoder.h"

namespace vigil {

absl::Status AppendJsonLine(const v1::Event& event, std::string& line) {
  if (AppendJson(event, line)) {
    line += '\n';
    return absl::OkStatus();
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = false;
  auto status = google::protobuf::util::MessageToJsonString(event, &json, options);
  if (!status.ok()) return absl::InternalError(absl::StrCat("JSON encoding: ", status.ToString()));
  line += json;
  line += '\n';
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<JsonLinesSink>> JsonLinesSink::Open(const std::string& path) {
  if (path == "-") return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(stdout, "stdout", false));
  // 0600: it holds every command line of the node, secrets in argv included.
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open output ", path));
  FILE* f = fdopen(fd, "a");
  if (f == nullptr) {
    const int err = errno;
    close(fd);
    return ErrnoStatus(err, absl::StrCat("open output ", path));
  }
  return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(f, path, true));
}

namespace {
// stdio's default buffer is a page: a write(2) every two or three exec
// events. The pipeline flushes whenever it goes idle, so a larger buffer
// costs no latency, only fewer system calls.
constexpr size_t kBufferBytes = 256 << 10;
}  // namespace

JsonLinesSink::JsonLinesSink(FILE* file, std::string path, bool owned)
    : file_(file), path_(std::move(path)), owned_(owned) {
  std::setvbuf(file_, nullptr, _IOFBF, kBufferBytes);
}

JsonLinesSink::~JsonLinesSink() {
  if (owned_) {
    std::fclose(file_);
  } else {
    std::fflush(file_);
  }
}

absl::Status JsonLinesSink::Write(const v1::Event& event) {
  line_.clear();
  absl::Status s = AppendJsonLine(event, line_);
  if (s.ok() && std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size()) {
    int err = errno;
    std::clearerr(file_);
    s = ErrnoStatus(err, absl::StrCat("write ", path_));
  }
  (s.ok() ? written_ : errors_).fetch_add(1, std::memory_order_relaxed);
  return s;
}

absl::Status JsonLinesSink::Flush() {
  if (std::fflush(file_) != 0) {
    int err = errno;
    std::clearerr(file_);
    errors_.fetch_add(1, std::memory_order_relaxed);
    return ErrnoStatus(err, absl::StrCat("flush ", path_));
  }
  return absl::OkStatus();
}

void JsonLinesSink::Report(std::vector<StageReport>& out) const {
  StageReport& r = out.emplace_back();
  r.name = "output";
  r.notes["path"] = path_;
  const uint64_t errors = errors_.load(std::memory_order_relaxed);
  if (errors > 0) r.state = "degraded";
  r.Counter("written", "vigil_output_events_total", "Events written to --output.",
            written_.load(std::memory_order_relaxed));
  r.Counter("errors", "vigil_output_errors_total", "Events --output could not encode or write, and failed flushes.",
            errors);
}

}  // namespace vigil
