#include "sink/json_lines_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

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
  if (path == "-") return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(UniqueFd(), "stdout"));
  // 0600: it holds every command line of the node, secrets in argv included.
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("open output ", path));
  return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(std::move(fd), path));
}

namespace {
// Lines wait here until the pipeline flushes (whenever it goes idle, so
// this adds no latency) or this much has gathered, then go out whole in one
// write(2): through stdio, whose buffer is a page, it was one every two or
// three exec events, and a reader of the file could see half a line.
constexpr size_t kBufferBytes = 256 << 10;
}  // namespace

JsonLinesSink::JsonLinesSink(UniqueFd file, std::string path) : file_(std::move(file)), path_(std::move(path)) {
  pending_.reserve(kBufferBytes + (64 << 10));
}

JsonLinesSink::~JsonLinesSink() { (void)WritePending(); }

absl::Status JsonLinesSink::Write(const v1::Event& event) {
  if (absl::Status s = AppendJsonLine(event, pending_); !s.ok()) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  ++pending_events_;
  return pending_.size() >= kBufferBytes ? WritePending() : absl::OkStatus();
}

absl::Status JsonLinesSink::Flush() { return WritePending(); }

// The lines gathered so far are written and counted, or counted lost: a
// failed write is not retried, or the lines after it would pile up here.
absl::Status JsonLinesSink::WritePending() {
  int fd = file_.get();
  if (!file_.valid()) {
    fd = STDOUT_FILENO;
    std::fflush(stdout);  // whatever else went to stdout comes first
  }
  absl::Status s;
  for (size_t done = 0; done < pending_.size();) {
    const ssize_t n = write(fd, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      s = ErrnoStatus(n < 0 ? errno : EIO, absl::StrCat("write ", path_));
      break;
    }
    done += static_cast<size_t>(n);
  }
  (s.ok() ? written_ : errors_).fetch_add(pending_events_, std::memory_order_relaxed);
  pending_events_ = 0;
  pending_.clear();
  return s;
}

void JsonLinesSink::Report(std::vector<StageReport>& out) const {
  StageReport& r = out.emplace_back();
  r.name = "output";
  r.notes["path"] = path_;
  const uint64_t errors = errors_.load(std::memory_order_relaxed);
  if (errors > 0) r.state = "degraded";
  r.Counter("written", "vigil_output_events_total", "Events written to --output.",
            written_.load(std::memory_order_relaxed));
  r.Counter("errors", "vigil_output_errors_total", "Events --output could not encode or write.", errors);
}

}  // namespace vigil
