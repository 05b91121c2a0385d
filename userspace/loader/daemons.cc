#include "loader/daemons.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file.h"
#include "common/log.h"
#include "common/status.h"

namespace vigil {
namespace {

// What /proc/<pid>/comm holds for a program: its file name, cut to
// TASK_COMM_LEN - 1 bytes.
std::string CommOf(const std::string& exe) {
  const size_t slash = exe.rfind('/');
  return exe.substr(slash == std::string::npos ? 0 : slash + 1, 15);
}

bool SameFile(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

}  // namespace

absl::StatusOr<uint64_t> ProcessStartTicks(pid_t pid) {
  auto stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return stat.status();
  // comm (field 2) may hold spaces and parentheses: fields after it are
  // counted from its last ')'.
  const size_t close = stat->rfind(')');
  if (close == std::string::npos) return absl::DataLossError(absl::StrCat("/proc/", pid, "/stat: no comm"));
  std::vector<absl::string_view> fields = absl::StrSplit(absl::string_view(*stat).substr(close + 2), ' ');
  uint64_t ticks = 0;
  // Field 22 overall is the 20th after comm (fields 3..).
  if (fields.size() < 20 || !absl::SimpleAtoi(fields[19], &ticks))
    return absl::DataLossError(absl::StrCat("/proc/", pid, "/stat: no start time"));
  return ticks;
}

absl::Status AddDaemon(int map_fd, uint32_t tgid) {
  auto ticks = ProcessStartTicks(static_cast<pid_t>(tgid));
  if (!ticks.ok()) return ticks.status();
  const uint64_t value = *ticks;
  if (bpf_map_update_elem(map_fd, &tgid, &value, BPF_ANY) != 0)
    return ErrnoStatus(errno, absl::StrCat("add process ", tgid, " to vigil_daemons"));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<DaemonWatch>> DaemonWatch::Start(int map_fd, DaemonWatchOptions options) {
  std::unique_ptr<DaemonWatch> watch(new DaemonWatch(map_fd, std::move(options)));
  if (watch->options_.collector_exe.empty()) return watch;
  watch->Scan();
  watch->thread_ = std::thread([w = watch.get()] {
    for (;;) {
      {
        absl::MutexLock lock(&w->mu_);
        if (w->mu_.AwaitWithTimeout(absl::Condition(&w->stop_), w->options_.interval)) return;
      }
      w->Scan();
    }
  });
  return watch;
}

DaemonWatch::~DaemonWatch() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void DaemonWatch::Scan() {
  // The file named now: an upgrade replaces it, and only new collectors run
  // the new one.
  struct stat exe {};
  std::vector<uint32_t> found;
  if (stat(options_.collector_exe.c_str(), &exe) == 0) {
    const std::string comm = CommOf(options_.collector_exe);
    DIR* proc = opendir("/proc");
    if (proc == nullptr) return;
    while (dirent* d = readdir(proc)) {
      uint32_t pid = 0;
      if (!absl::SimpleAtoi(d->d_name, &pid)) continue;
      const std::string dir = absl::StrCat("/proc/", pid);
      // comm first: cheap, and a process that renames itself can only
      // make itself reported.
      auto c = ReadFile(dir + "/comm");
      if (!c.ok() || absl::StripTrailingAsciiWhitespace(*c) != comm) continue;
      struct stat st {};
      if (stat((dir + "/exe").c_str(), &st) == 0 && SameFile(st, exe)) found.push_back(pid);
    }
    closedir(proc);
  }
  std::sort(found.begin(), found.end());

  absl::MutexLock lock(&mu_);
  for (uint32_t pid : collectors_) {
    if (!std::binary_search(found.begin(), found.end(), pid)) bpf_map_delete_elem(map_fd_, &pid);
  }
  std::vector<uint32_t> added;
  for (uint32_t pid : found) {
    // Written again each pass: a pid reused by a new collector gets its
    // start time.
    if (!AddDaemon(map_fd_, pid).ok()) continue;
    if (!std::binary_search(collectors_.begin(), collectors_.end(), pid))
      Logger("loader")->info("vigil-collector {} found: its calls are not reported", pid);
    added.push_back(pid);
  }
  collectors_ = std::move(added);
}

std::vector<uint32_t> DaemonWatch::collectors() const {
  absl::MutexLock lock(&mu_);
  return collectors_;
}

}  // namespace vigil
