#include "collector_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"

#ifndef VIGIL_COLLECTOR_PATH
#error "VIGIL_COLLECTOR_PATH must name the vigil-collector binary (set by tests/e2e/CMakeLists.txt)"
#endif

extern char** environ;

namespace vigil::testing {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "vigil-e2e-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    return;
  }
  path_ = templ;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  if (::testing::Test::HasFailure() || std::getenv("VIGIL_KEEP_TEST_FILES") != nullptr) {
    std::cout << "test files kept in " << path_ << std::endl;
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CollectorProcess::CollectorProcess(std::string dir, std::vector<std::string> flags)
    : dir_(std::move(dir)),
      flags_(std::move(flags)),
      output_path_(dir_ + "/events.jsonl"),
      port_file_(dir_ + "/port"),
      log_path_(dir_ + "/collector.log") {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
}

CollectorProcess::~CollectorProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

std::string CollectorProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

absl::Status CollectorProcess::Start(int port) {
  if (pid_ > 0) return absl::FailedPreconditionError("collector already running");
  unlink(port_file_.c_str());
  std::vector<std::string> args = {VIGIL_COLLECTOR_PATH, absl::StrCat("--listen=127.0.0.1:", port),
                                   "--spool_dir=" + dir_ + "/spool", "--file_path=" + output_path_,
                                   "--port_file=" + port_file_,
                                   // A test counts everything it sent: nothing may rotate away.
                                   "--file_max_files=1000"};
  args.push_back("--metrics_address=127.0.0.1:0");  // never the fixed :9477 in tests (int5)
  args.insert(args.end(), flags_.begin(), flags_.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::InternalError("open collector log");
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork");
  if (pid == 0) {
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execve(argv[0], argv.data(), environ);
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    int p = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadWholeFile(port_file_)), &p) && p > 0) {
      port_ = p;
      return absl::OkStatus();
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::FailedPreconditionError(absl::StrCat("collector exited (status ", status, "):\n", Log()));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("collector not listening after 20 s:\n", Log()));
}

void CollectorProcess::Stop(int sig) {
  if (pid_ <= 0) return;
  kill(pid_, sig);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::vector<v1::Event> CollectorProcess::Events() const {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    if (e.path().filename().string().starts_with("events.jsonl")) files.push_back(e.path().string());
  }
  std::vector<v1::Event> out;
  for (const std::string& f : files) {
    const std::string text = ReadWholeFile(f);
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      v1::Event e;
      google::protobuf::util::JsonParseOptions strict;
      // A partial last line is a write in progress: read again later.
      if (!google::protobuf::util::JsonStringToMessage(std::string(line), &e, strict).ok()) continue;
      out.push_back(std::move(e));
    }
  }
  return out;
}

std::map<std::string, int> CollectorProcess::IdCounts() const {
  // Polled while hundreds of MB arrive: reading the id that the JSON printer
  // puts first is ~50x cheaper than parsing every line, and leaves the two
  // cores to the sensor and collector under test. Only whole lines count.
  constexpr absl::string_view kIdPrefix = "{\"id\":\"";
  std::map<std::string, int> counts;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (!entry.path().filename().string().starts_with("events.jsonl")) continue;
    const std::string text = ReadWholeFile(entry.path().string());
    absl::string_view rest(text);
    for (size_t nl; (nl = rest.find('\n')) != absl::string_view::npos; rest.remove_prefix(nl + 1)) {
      absl::string_view line = rest.substr(0, nl);
      if (absl::ConsumePrefix(&line, kIdPrefix)) {
        ++counts[std::string(line.substr(0, line.find('"')))];
        continue;
      }
      v1::Event e;
      if (google::protobuf::util::JsonStringToMessage(std::string(line), &e).ok()) ++counts[e.id()];
    }
  }
  return counts;
}

Delivery WaitDelivered(std::vector<SensorProcess*> sensors, const CollectorProcess& collector, absl::Duration timeout,
                       size_t allowed_missing) {
  std::set<std::string> ids;
  for (SensorProcess* s : sensors) {
    for (const v1::Event& e : s->Events()) ids.insert(e.id());
  }
  const absl::Time deadline = absl::Now() + timeout;
  Delivery d;
  for (;;) {
    const std::map<std::string, int> got = collector.IdCounts();
    d = Delivery{.expected = ids.size(), .missing = 0, .duplicated = 0, .first_missing = ""};
    for (const std::string& id : ids) {
      auto it = got.find(id);
      if (it == got.end()) {
        if (d.missing++ == 0) d.first_missing = id;
      } else if (it->second > 1) {
        ++d.duplicated;
      }
    }
    if (d.missing <= allowed_missing || absl::Now() >= deadline) return d;
    absl::SleepFor(absl::Milliseconds(500));
  }
}

std::string CollectorProcess::Log() const { return ReadWholeFile(log_path_); }

absl::Status MakeCertificates(const std::string& dir) {
  const std::string script = absl::StrCat(R"(set -e
cd ')",
                                          dir, R"('
ca() { openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout $1.key -out $1.pem 2>/dev/null; }
leaf() {  # name ca san
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout $1.key -out $1.csr 2>/dev/null
  printf 'subjectAltName=%s\n' "$3" > $1.ext
  openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial -days 2 -extfile $1.ext -out $1.pem 2>/dev/null
}
ca ca; ca other-ca
leaf server ca IP:127.0.0.1,DNS:localhost
leaf client ca DNS:node-a
leaf other-client other-ca DNS:node-b
)");
  const std::string path = dir + "/make-certs.sh";
  std::ofstream(path) << script;
  const int status = system(absl::StrCat("/bin/sh '", path, "'").c_str());
  if (status != 0) return absl::InternalError(absl::StrCat("openssl certificate generation failed: ", status));
  return absl::OkStatus();
}

std::vector<std::string> UplinkFlags(const CollectorProcess& c, const std::string& spool) {
  return {"--collector=" + c.address(), "--collector_plaintext", "--spool_dir=" + spool, "--collector_max_backoff=1s",
          "--health_interval=5s"};
}

Load::Load(std::string tag, absl::Duration pause)
    : thread_([this, tag = std::move(tag), pause] {
        for (int i = 0; !stop_; ++i) {
          Run({"/bin/true", absl::StrCat(tag, "-", i)});
          absl::SleepFor(pause);
        }
      }) {}

void Load::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace vigil::testing
