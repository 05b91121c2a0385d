// File family: opens, unlink, rename, chmod, chown, utimensat on fexit
// programs where the kernel has BPF trampolines, else on the
// syscalls/sys_{enter,exit}_* tracepoints, with the path filters of
// LoaderConfig::file applied in the kernel.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "file.skel.h"
#include "loader/families.h"
#include "loader/file_filter.h"
#include "loader/skeleton.h"

namespace vigil {

namespace {

// The kernel function each syscall enters by: the architecture's syscall
// wrapper, where bpf/file.bpf.c puts its fexit programs.
#if defined(__aarch64__)
#define VIGIL_SYSCALL_FN "__arm64_sys_"
#else
#define VIGIL_SYSCALL_FN "__x64_sys_"
#endif

// One syscall's programs: its enter program and the shared exit program at
// its tracepoints, and its fexit program on its function (not for opens).
struct Syscall {
  std::vector<HookTarget> tracepoints;
  HookTarget fexit;
};

#define VIGIL_SYSCALL(sys)                                                                                \
  Syscall {                                                                                               \
    {{"vigil_file_" #sys, "syscalls/sys_enter_" #sys}, {"vigil_file_exit", "syscalls/sys_exit_" #sys}}, { \
      "vigil_file_" #sys "_fexit", VIGIL_SYSCALL_FN #sys                                                  \
    }                                                                                                     \
  }

// The syscalls' tracepoints as one candidate: the first syscall's ("openat":
// present on every architecture) decides, the others are attached where the
// kernel has them.
HookCandidate Tracepoints(const std::vector<Syscall>& syscalls) {
  HookCandidate cand{syscalls[0].tracepoints[0].program, Hook::kTracepoint, syscalls[0].tracepoints[0].target};
  for (size_t s = 0; s < syscalls.size(); ++s) {
    for (size_t t = s == 0 ? 1 : 0; t < syscalls[s].tracepoints.size(); ++t)
      cand.more.push_back(syscalls[s].tracepoints[t]);
  }
  return cand;
}

// A probe on fexit programs on the syscalls' functions where this kernel has
// trampolines, else on their tracepoints.
ProbeSpec FileProbe(const char* name, const std::vector<Syscall>& syscalls) {
  HookCandidate fexit{syscalls[0].fexit.program, Hook::kFentry, syscalls[0].fexit.target};
  for (size_t s = 1; s < syscalls.size(); ++s) fexit.more.push_back(syscalls[s].fexit);
  return ProbeSpec{name, {std::move(fexit), Tracepoints(syscalls)}};
}

using FileSkel = Skeleton<file_bpf, file_bpf__open_opts, file_bpf__destroy>;

// The path prefix maps of the object and the lists that fill them.
struct PrefixMap {
  bpf_map* map;
  std::vector<std::string> prefixes;
};

std::vector<PrefixMap> PrefixMaps(const file_bpf& s, const LoaderConfig& config) {
  return {{s.maps.vigil_file_sensitive, config.file.sensitive},
          {s.maps.vigil_file_include, config.file.include},
          {s.maps.vigil_file_exclude, config.file.exclude}};
}

absl::Status FillPrefixMap(bpf_map* map, const std::vector<std::string>& prefixes) {
  const char* name = bpf_map__name(map);
  const uint8_t one = 1;
  for (const std::string& prefix : prefixes) {
    // The kernel compares this many bytes at most (an LPM trie's limit).
    if (prefix.size() > VIGIL_PREFIX_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("path prefix longer than ", VIGIL_PREFIX_MAX, " bytes: ", prefix));
    }
    vigil_prefix_key key{};
    key.prefixlen = static_cast<uint32_t>(prefix.size() * 8);
    std::memcpy(key.data, prefix.data(), prefix.size());
    if (bpf_map_update_elem(bpf_map__fd(map), &key, &one, BPF_ANY) != 0) {
      return LibbpfStatus(-errno, absl::StrCat("add prefix ", prefix, " to ", name));
    }
  }
  return absl::OkStatus();
}

}  // namespace

FamilySpec FileFamily() {
  return FamilySpec{
      "file",
      {
          // Every open syscall ends in do_sys_openat2: one fexit program for all.
          ProbeSpec{"open",
                    {{"vigil_file_open_fexit", Hook::kFentry, "do_sys_openat2"},
                     Tracepoints(
                         {VIGIL_SYSCALL(openat), VIGIL_SYSCALL(openat2), VIGIL_SYSCALL(open), VIGIL_SYSCALL(creat)})}},
          FileProbe("unlink", {VIGIL_SYSCALL(unlinkat), VIGIL_SYSCALL(unlink), VIGIL_SYSCALL(rmdir)}),
          FileProbe("rename", {VIGIL_SYSCALL(renameat2), VIGIL_SYSCALL(renameat), VIGIL_SYSCALL(rename)}),
          FileProbe("chmod",
                    {VIGIL_SYSCALL(fchmodat), VIGIL_SYSCALL(fchmodat2), VIGIL_SYSCALL(chmod), VIGIL_SYSCALL(fchmod)}),
          FileProbe("chown",
                    {VIGIL_SYSCALL(fchownat), VIGIL_SYSCALL(chown), VIGIL_SYSCALL(lchown), VIGIL_SYSCALL(fchown)}),
          FileProbe("utimes", {VIGIL_SYSCALL(utimensat)}),
      },
      [](const bpf_object_open_opts* opts, const LoaderConfig& config) -> absl::StatusOr<std::unique_ptr<BpfObject>> {
        auto skel = FileSkel::Make(opts);
        if (!skel.ok()) return skel.status();
        file_bpf* s = (*skel)->skel();
        s->rodata->vigil_file_writes_only = config.file.writes_only ? 1 : 0;
        s->rodata->vigil_file_has_include = config.file.include.empty() ? 0 : 1;
        s->rodata->vigil_file_has_exclude = config.file.exclude.empty() ? 0 : 1;
        if (int err = bpf_map__set_max_entries(s->maps.vigil_file_calls, config.file_pending_entries); err != 0)
          return LibbpfStatus(err, "size vigil_file_calls");
        const SensitiveHeads heads = SensitiveHeads::Of(config.file.sensitive);
        s->rodata->vigil_file_head_len = heads.len;
        std::copy(heads.mask.begin(), heads.mask.end(), s->rodata->vigil_file_head_mask);
        std::copy(heads.bits.begin(), heads.bits.end(), s->rodata->vigil_file_heads);
        for (const PrefixMap& m : PrefixMaps(*s, config)) {
          // An LPM trie cannot have zero entries.
          const size_t n = std::max<size_t>(m.prefixes.size(), 1);
          if (int err = bpf_map__set_max_entries(m.map, static_cast<uint32_t>(n)); err != 0)
            return LibbpfStatus(err, absl::StrCat("size ", bpf_map__name(m.map)));
        }
        return std::unique_ptr<BpfObject>(*std::move(skel));
      },
      [](BpfObject& obj, const LoaderConfig& config) -> absl::Status {
        // The object this family's open() made.
        const file_bpf& s = *static_cast<FileSkel&>(obj).skel();
        for (const PrefixMap& m : PrefixMaps(s, config)) {
          if (absl::Status st = FillPrefixMap(m.map, m.prefixes); !st.ok()) return st;
        }
        return absl::OkStatus();
      }};
}

}  // namespace vigil
