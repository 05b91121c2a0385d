#include "process/procfs.h"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace vigil {

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus(errno == 0 ? ENOENT : errno, absl::StrCat("open ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ReadLink(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

absl::StatusOr<ProcEntry> ReadProcEntry(const std::string& proc_root, uint32_t pid) {
  const std::string dir = absl::StrCat(proc_root, "/", pid);
  auto stat = ReadFile(dir + "/stat");
  if (!stat.ok()) return absl::NotFoundError(absl::StrCat("process ", pid, ": ", stat.status().message()));

  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // split at the last ')'.
  size_t open = stat->find('(');
  size_t close = stat->rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return absl::DataLossError(absl::StrCat(dir, "/stat is malformed"));
  }
  ProcEntry e;
  e.pid = pid;
  e.comm = stat->substr(open + 1, close - open - 1);
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(*stat).substr(close + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  if (fields.size() < 20 || !absl::SimpleAtoi(fields[1], &e.ppid) || !absl::SimpleAtoi(fields[19], &e.start_ticks)) {
    return absl::DataLossError(absl::StrCat(dir, "/stat is malformed"));
  }

  if (auto status = ReadFile(dir + "/status"); status.ok()) {
    for (absl::string_view line : absl::StrSplit(*status, '\n')) {
      uint32_t* real = nullptr;
      uint32_t* effective = nullptr;
      if (absl::ConsumePrefix(&line, "Uid:")) {
        real = &e.uid, effective = &e.euid;
      } else if (absl::ConsumePrefix(&line, "Gid:")) {
        real = &e.gid, effective = &e.egid;
      } else {
        continue;
      }
      std::vector<absl::string_view> ids = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
      if (ids.size() >= 2) {
        (void)absl::SimpleAtoi(ids[0], real);
        (void)absl::SimpleAtoi(ids[1], effective);
      }
    }
  }
  if (auto cmdline = ReadFile(dir + "/cmdline"); cmdline.ok() && !cmdline->empty()) {
    absl::string_view block(*cmdline);
    if (block.back() == '\0') block.remove_suffix(1);
    for (absl::string_view arg : absl::StrSplit(block, '\0')) e.argv.emplace_back(arg);
  }
  e.exe = ReadLink(dir + "/exe");
  e.cwd = ReadLink(dir + "/cwd");
  return e;
}

std::vector<uint32_t> ListPids(const std::string& proc_root) {
  std::vector<uint32_t> pids;
  DIR* d = opendir(proc_root.c_str());
  if (d == nullptr) return pids;
  while (dirent* ent = readdir(d)) {
    uint32_t pid;
    if (absl::SimpleAtoi(ent->d_name, &pid)) pids.push_back(pid);
  }
  closedir(d);
  return pids;
}

}  // namespace vigil
