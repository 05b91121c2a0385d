#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace vigil {

// What the process cache keeps of a process: all of a v1::Process but its
// tid and exec id (the cache's key), in about a third of the memory. exe,
// cwd and argv share one allocation; comm fits std::string's inline buffer;
// the parent's exec id is kept as the two numbers it is made of.
struct CachedProcess {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint32_t ns_pid = 0;
  uint32_t uid = 0, gid = 0, euid = 0, egid = 0;
  // Which of uid, gid, euid, egid are set (root's 0 is not "unset").
  enum : uint8_t { kUid = 1, kGid = 2, kEuid = 4, kEgid = 8 };
  uint8_t ids = 0;
  bool argv_truncated = false;
  bool has_start_time = false;
  bool has_parent = false;  // parent_pid and parent_start_ticks are its exec id's
  int32_t start_nanos = 0;
  int64_t start_seconds = 0;
  uint32_t exe_size = 0;
  uint32_t cwd_size = 0;
  uint32_t argc = 0;
  uint32_t parent_pid = 0;
  uint64_t parent_start_ticks = 0;
  // Which of the cache's writes wrote this entry last: numbered across all
  // entries, so an entry evicted and written anew never has an old number.
  uint64_t generation = 0;
  std::string comm;
  // exe, then cwd, then each argument followed by a NUL (the kernel's
  // separator: no argument holds one). Written by SetText, read through the
  // accessors below.
  std::string text;

  absl::string_view exe() const { return absl::string_view(text).substr(0, exe_size); }
  absl::string_view cwd() const { return absl::string_view(text).substr(exe_size, cwd_size); }

  // Sets exe, cwd and the arguments (any range of strings), reusing text's
  // storage.
  template <typename Args>
  void SetText(absl::string_view exe, absl::string_view cwd, const Args& args) {
    size_t size = exe.size() + cwd.size();
    argc = 0;
    for (const auto& arg : args) size += arg.size() + 1;
    text.clear();
    text.reserve(size);
    text.append(exe.data(), exe.size()).append(cwd.data(), cwd.size());
    for (const auto& arg : args) {
      text.append(arg.data(), arg.size()).push_back('\0');
      ++argc;
    }
    exe_size = static_cast<uint32_t>(exe.size());
    cwd_size = static_cast<uint32_t>(cwd.size());
    // A burst of long command lines must not leave every entry at its peak.
    if (text.capacity() > 2 * text.size() + 64) text.shrink_to_fit();
  }

  // Calls f(arg) for each argument in order until it returns false; false
  // when it was stopped.
  template <typename F>
  bool ForEachArg(F&& f) const {
    absl::string_view args = absl::string_view(text).substr(exe_size + cwd_size);
    for (uint32_t i = 0; i < argc && !args.empty(); ++i) {
      const void* nul = std::memchr(args.data(), '\0', args.size());
      const size_t end =
          nul != nullptr ? static_cast<size_t>(static_cast<const char*>(nul) - args.data()) : args.size();
      if (!f(args.substr(0, end))) return false;
      args.remove_prefix(std::min(end + 1, args.size()));
    }
    return true;
  }

  // The arguments joined by spaces, as a rule's CommandLine reads them.
  void AppendCommandLine(std::string& out) const {
    bool first = true;
    ForEachArg([&](absl::string_view arg) {
      if (!first) out.push_back(' ');
      first = false;
      out.append(arg.data(), arg.size());
      return true;
    });
  }
};

// Read-only lookups into what the process cache knows, for later stages
// (the detector asks about a process's ancestors on any event kind, not only
// on exec events, which carry them). Pipeline thread only; a returned
// pointer is valid until the cache is next changed (the next event).
class ProcessView {
 public:
  virtual ~ProcessView() = default;
  // The process with this exec id, or null.
  virtual const CachedProcess* Lookup(absl::string_view exec_id) const = 0;
  // The parent of a process this view returned, or null.
  virtual const CachedProcess* Parent(const CachedProcess& process) const = 0;
};

}  // namespace vigil
