#include "ctl_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

#ifndef VIGIL_CTL_PATH
#error "VIGIL_CTL_PATH must name the vigilctl binary"
#endif

namespace vigil::testing {

namespace {
std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

CtlProcess::CtlProcess(std::vector<std::string> args) {
  std::string templ = "/tmp/vigil-ctl-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp";
    return;
  }
  dir_ = templ;
  args.insert(args.begin(), VIGIL_CTL_PATH);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int out = open((dir_ + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err = open((dir_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(null_fd, 0);
    dup2(out, 1);
    dup2(err, 2);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out);
  close(err);
  close(null_fd);
}

CtlProcess::~CtlProcess() {
  Kill();
  if (!dir_.empty() && !::testing::Test::HasFailure()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  } else if (!dir_.empty()) {
    std::cout << "vigilctl output kept in " << dir_ << std::endl;
  }
}

std::string CtlProcess::Stdout() const { return ReadFile(dir_ + "/stdout"); }
std::string CtlProcess::Stderr() const { return ReadFile(dir_ + "/stderr"); }

std::vector<std::string> CtlProcess::StdoutLines() const { return absl::StrSplit(Stdout(), '\n', absl::SkipEmpty()); }

std::vector<v1::Event> CtlProcess::JsonEvents() const {
  std::vector<v1::Event> out;
  for (const std::string& line : StdoutLines()) {
    v1::Event e;
    const auto s = google::protobuf::util::JsonStringToMessage(line, &e, google::protobuf::util::JsonParseOptions());
    if (!s.ok()) {
      ADD_FAILURE() << "not a vigil.v1.Event: " << line;
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool CtlProcess::WaitStderr(const std::string& text, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (!absl::StrContains(Stderr(), text)) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

bool CtlProcess::WaitStdout(const std::string& text, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (!absl::StrContains(Stdout(), text)) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

int CtlProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (pid_ > 0) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (absl::Now() >= deadline) {
      Kill();
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return -1;
}

void CtlProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int RunCtl(const std::vector<std::string>& args, std::string* out, std::string* err) {
  CtlProcess ctl(args);
  const int code = ctl.Wait(absl::Seconds(60));
  if (out != nullptr) *out = ctl.Stdout();
  if (err != nullptr) *err = ctl.Stderr();
  return code;
}

}  // namespace vigil::testing
