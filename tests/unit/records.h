#pragma once

// Raw ring-buffer records built from the real ABI structs, as the probes
// write them, for the decoder and pipeline tests.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "vigil_abi.h"

namespace vigil::test {

using Record = std::vector<uint8_t>;

inline constexpr char kNode[] = "node-a";
inline constexpr uint64_t kBootNs = 987'654'321'000;

// A process whose fields are all distinct, and root (uid 0) so that a lost
// "optional" shows.
inline vigil_proc TestProc(uint32_t pid = 4242) {
  vigil_proc p{};
  p.start_boottime_ns = 123'459'999'999;       // 12345 ticks
  p.parent_start_boottime_ns = 1'500'000'001;  // 150 ticks
  p.cgroup_id = 0x1234'5678'9abcULL;
  p.pid = pid;
  p.tid = pid + 1;
  p.ppid = 4000;
  p.uid = 0;
  p.gid = 20;
  p.euid = 1001;
  p.egid = 1002;
  std::strncpy(p.comm, "worker", sizeof(p.comm));
  p.ns_pid = 7;
  p.pid_ns = 4026531836;
  p.mnt_ns = 4026531841;
  p.net_ns = 4026531840;
  return p;
}

// Copies a T out of the front of `record`, lets `edit` change it, and writes it back.
template <typename T, typename F>
void Edit(Record& record, F&& edit) {
  T value;
  std::memcpy(&value, record.data(), sizeof(T));
  edit(value);
  std::memcpy(record.data(), &value, sizeof(T));
}

template <typename T>
Record Bytes(const T& value) {
  Record r(sizeof(T));
  std::memcpy(r.data(), &value, sizeof(T));
  return r;
}

inline void FillHeader(vigil_header& h, uint16_t kind, uint32_t size, const vigil_proc& proc) {
  h.abi_version = VIGIL_ABI_VERSION;
  h.kind = kind;
  h.size = size;
  h.boot_ns = kBootNs;
  h.proc = proc;
}

// argv as a process's memory holds it: each argument followed by a NUL.
inline std::string ArgvBlock(std::initializer_list<std::string_view> argv) {
  std::string block;
  for (std::string_view arg : argv) {
    block.append(arg);
    block.push_back('\0');
  }
  return block;
}

struct ExecSpec {
  vigil_proc proc = TestProc();
  std::string args;  // raw argv bytes, exactly as copied by the probe
  uint32_t argc = 0;
  uint32_t flags = 0;
  std::string filename = "/usr/bin/tool";  // the record holds it NUL-terminated
  std::string cwd;                         // empty: none in the record (cwd_len 0)
  uint32_t facts = 0;                      // VIGIL_EXEC_FACT_UPPER_LAYER ..
  vigil_stdio stdio[VIGIL_STDIO_FDS] = {};
};

// An exec of `argv`, complete and untruncated.
inline ExecSpec ExecOf(std::initializer_list<std::string_view> argv) {
  ExecSpec s;
  s.args = ArgvBlock(argv);
  s.argc = static_cast<uint32_t>(argv.size());
  return s;
}

inline Record ExecRecord(const ExecSpec& s) {
  const uint32_t filename_len = static_cast<uint32_t>(s.filename.size() + 1);
  const uint32_t cwd_len = s.cwd.empty() ? 0 : static_cast<uint32_t>(s.cwd.size() + 1);
  vigil_exec e{};
  FillHeader(e.hdr, VIGIL_KIND_EXEC, static_cast<uint32_t>(sizeof(e) + s.args.size() + filename_len + cwd_len), s.proc);
  e.flags = s.flags;
  e.argc = s.argc;
  e.args_len = static_cast<uint32_t>(s.args.size());
  e.args_total = e.args_len;
  e.filename_len = filename_len;
  e.cwd_len = cwd_len;
  e.facts = s.facts;
  std::copy(std::begin(s.stdio), std::end(s.stdio), std::begin(e.stdio));
  Record r = Bytes(e);
  r.insert(r.end(), s.args.begin(), s.args.end());
  r.insert(r.end(), s.filename.begin(), s.filename.end());
  r.push_back('\0');
  if (cwd_len != 0) {
    r.insert(r.end(), s.cwd.begin(), s.cwd.end());
    r.push_back('\0');
  }
  return r;
}

// `exit_code` is the raw wait status the kernel keeps in task->exit_code.
inline Record ExitRecord(uint32_t exit_code, const vigil_proc& proc = TestProc()) {
  vigil_exit e{};
  FillHeader(e.hdr, VIGIL_KIND_EXIT, sizeof(e), proc);
  e.exit_code = exit_code;
  return Bytes(e);
}

inline Record ForkRecord(uint32_t parent_tid, const vigil_proc& proc = TestProc()) {
  vigil_fork e{};
  FillHeader(e.hdr, VIGIL_KIND_FORK, sizeof(e), proc);
  e.parent_tid = parent_tid;
  return Bytes(e);
}

struct FileSpec {
  uint16_t kind = VIGIL_KIND_FILE_OPEN;
  vigil_proc proc = TestProc();
  int64_t result = 3;
  uint32_t op = VIGIL_FILE_OP_OPENAT;
  uint32_t flags = 0;
  uint32_t mode = 0;
  uint32_t uid = VIGIL_FILE_ID_UNCHANGED;
  uint32_t gid = VIGIL_FILE_ID_UNCHANGED;
  uint32_t vflags = 0;
  std::string path = "/etc/app.conf";  // NUL-terminated in the record
  std::string path2;                   // empty: none (path2_len 0)
};

inline Record FileRecord(const FileSpec& s) {
  const uint32_t len = static_cast<uint32_t>(s.path.size() + 1);
  const uint32_t len2 = s.path2.empty() ? 0 : static_cast<uint32_t>(s.path2.size() + 1);
  vigil_file e{};
  FillHeader(e.hdr, s.kind, static_cast<uint32_t>(sizeof(e) + len + len2), s.proc);
  e.result = s.result;
  e.op = s.op;
  e.flags = s.flags;
  e.mode = s.mode;
  e.uid = s.uid;
  e.gid = s.gid;
  e.vflags = s.vflags;
  e.path_len = len;
  e.path2_len = len2;
  Record r = Bytes(e);
  r.insert(r.end(), s.path.begin(), s.path.end());
  r.push_back('\0');
  if (len2 != 0) {
    r.insert(r.end(), s.path2.begin(), s.path2.end());
    r.push_back('\0');
  }
  return r;
}

}  // namespace vigil::test
