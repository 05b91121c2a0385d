#include "loader/probe_set.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/cgroup2.h"
#include "common/log.h"
#include "common/status.h"
#include "loader/daemons.h"
#include "loader/kernel.h"

namespace vigil {

namespace {

// libbpf's messages go to the "libbpf" logger. While the loader tries
// candidates, failures are expected: they are logged at debug level and the
// last one is kept as the reason.
thread_local bool tl_trial = false;
thread_local std::string tl_last_error;

int LibbpfPrint(libbpf_print_level level, const char* format, va_list args) {
  // Whole, however long: a verifier log arrives as one message.
  va_list again;
  va_copy(again, args);
  std::string buf(std::max(vsnprintf(nullptr, 0, format, args), 0) + 1, '\0');
  vsnprintf(buf.data(), buf.size(), format, again);
  va_end(again);
  absl::string_view msg = absl::StripTrailingAsciiWhitespace(buf.c_str());
  auto log = Logger("libbpf");
  if (level == LIBBPF_WARN) {
    tl_last_error = std::string(msg);
    log->log(tl_trial ? spdlog::level::debug : spdlog::level::warn, "{}", msg);
  } else {
    log->log(level == LIBBPF_INFO ? spdlog::level::debug : spdlog::level::trace, "{}", msg);
  }
  return 0;
}

// Verifier statistics come from log level 4 (BPF_LOG_STATS, 5.2+), whose
// "processed N insns" line every supported kernel prints, unlike
// bpf_prog_info.verified_insns (5.16+). Without level 1 there is no
// per-instruction trace, so this buffer is plenty and never fills.
constexpr uint32_t kLogStats = 4;
constexpr size_t kStatsLogSize = 64 * 1024;

uint32_t ProcessedInsns(absl::string_view log) {
  const size_t at = log.rfind("processed ");
  uint32_t n = 0;
  if (at == absl::string_view::npos) return 0;
  for (char c : log.substr(at + sizeof("processed ") - 1)) {
    if (c < '0' || c > '9') break;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  return n;
}

// The verifier's complaint in a failed load's log: its last line that is not
// one of the statistics lines.
std::string VerifierError(absl::string_view log) {
  std::string last;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipWhitespace())) {
    if (absl::StartsWith(line, "processed ") || absl::StartsWith(line, "verification time") ||
        absl::StartsWith(line, "stack depth")) {
      continue;
    }
    last = std::string(line);
  }
  return last;
}

absl::string_view AfterSlash(absl::string_view target) { return target.substr(target.find('/') + 1); }

}  // namespace

// What the running kernel and host offer to attach to.
struct ProbeSet::Hooks {
  const btf* vmlinux;
  int cgroup_fd;  // root of cgroup2, or -1
  const std::string& cgroup_error;
  const absl::Status* fentry;  // whether trampolines work here; null: not asked
  bool preempt_kfuncs;         // bpf_preempt_disable() and _enable() (6.10+)
  bool task_btf;               // bpf_get_current_task_btf() and task storage in tracing programs (5.11+)
};

namespace {

// Whether this kernel has the hook point at all; the verifier has the last
// word at load time.
bool HookPresent(const ProbeSet::Hooks& k, Hook hook, const std::string& target, std::string* why) {
  const btf* vmlinux = k.vmlinux;
  bool present = false;
  switch (hook) {
    case Hook::kTpBtf:
      // tp_btf attaches through the typedef the kernel emits per tracepoint.
      present =
          vmlinux != nullptr && btf__find_by_name_kind(vmlinux, absl::StrCat("btf_trace_", AfterSlash(target)).c_str(),
                                                       BTF_KIND_TYPEDEF) >= 0;
      break;
    case Hook::kRawTp:
    case Hook::kTracepoint:
      present = TracepointExists(target);
      break;
    case Hook::kFentry:
      present = vmlinux != nullptr && btf__find_by_name_kind(vmlinux, target.c_str(), BTF_KIND_FUNC) >= 0;
      // The function is there, but trampolines may not be: then no fentry
      // program of any family is worth the verifier's time.
      if (present && k.fentry != nullptr && !k.fentry->ok()) {
        *why = absl::StrCat("fentry programs do not work here: ", k.fentry->message());
        return false;
      }
      break;
    case Hook::kKprobe:
      present = KprobesSupported() && KernelSymbolExists(target);
      break;
    case Hook::kCgroupSkb:
      if (k.cgroup_fd < 0) {
        *why = k.cgroup_error;
        return false;
      }
      return true;
  }
  if (!present) {
    *why = hook == Hook::kKprobe && !KprobesSupported() ? "kprobes are not available in this kernel"
                                                        : absl::StrCat(target, " is not in this kernel");
  }
  return present;
}

bool HookPresent(const ProbeSet::Hooks& k, const HookCandidate& cand, std::string* why) {
  return HookPresent(k, cand.hook, cand.target, why);
}

// The candidate's attachments this kernel has: its own, then those of `more`
// whose target exists.
std::vector<HookTarget> PresentTargets(const ProbeSet::Hooks& k, const HookCandidate& cand) {
  std::vector<HookTarget> targets{{cand.program, cand.target}};
  for (const HookTarget& t : cand.more) {
    if (std::string why; HookPresent(k, cand.hook, t.target, &why)) {
      targets.push_back(t);
    }
  }
  return targets;
}

bool Disabled(const LoaderConfig& config, const std::string& family, const std::string& probe) {
  for (const std::string& d : config.disabled) {
    if (d == family || d == probe || d == absl::StrCat(family, "/", probe)) return true;
  }
  return false;
}

bpf_link* Attach(bpf_program* prog, Hook hook, absl::string_view target, int cgroup_fd) {
  // Classic tracepoints are attached by target, so one program can serve
  // several of them; cgroup programs to the cgroup; the others attach as
  // their SEC() names say.
  if (hook == Hook::kCgroupSkb) return bpf_program__attach_cgroup(prog, cgroup_fd);
  if (hook == Hook::kTracepoint) {
    const size_t slash = target.find('/');
    return bpf_program__attach_tracepoint(prog, std::string(target.substr(0, slash)).c_str(),
                                          std::string(target.substr(slash + 1)).c_str());
  }
  return bpf_program__attach(prog);
}

}  // namespace

const char* HookName(Hook hook) {
  switch (hook) {
    case Hook::kTpBtf:
      return "tp_btf";
    case Hook::kRawTp:
      return "raw_tp";
    case Hook::kTracepoint:
      return "tracepoint";
    case Hook::kFentry:
      return "fentry";
    case Hook::kKprobe:
      return "kprobe";
    case Hook::kCgroupSkb:
      return "cgroup_skb";
  }
  return "?";
}

absl::Status ProbeSet::CreateSharedMaps(const LoaderConfig& config) {
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return LibbpfStatus(ncpus, "count possible CPUs");
  ring_fd_ = UniqueFd(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "vigil_events", 0, 0, config.ring_buffer_bytes, nullptr));
  if (!ring_fd_.valid())
    return LibbpfStatus(ring_fd_.get(), absl::StrCat("create ring buffer of ", config.ring_buffer_bytes, " bytes"));
  stats_fd_ = UniqueFd(
      bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "vigil_stats", sizeof(uint32_t), sizeof(vigil_stats), 1, nullptr));
  if (!stats_fd_.valid()) return LibbpfStatus(stats_fd_.get(), "create counter map");
  scratch_fd_ = UniqueFd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "vigil_scratch", sizeof(uint32_t), VIGIL_SCRATCH_SIZE,
                                        static_cast<uint32_t>(ncpus), nullptr));
  if (!scratch_fd_.valid()) return LibbpfStatus(scratch_fd_.get(), "create scratch map");
  daemons_fd_ = UniqueFd(bpf_map_create(BPF_MAP_TYPE_HASH, "vigil_daemons", sizeof(uint32_t), sizeof(uint64_t),
                                        VIGIL_DAEMONS_MAX, nullptr));
  if (!daemons_fd_.valid()) return LibbpfStatus(daemons_fd_.get(), "create daemon map");
  wakeup_fd_ =
      UniqueFd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "vigil_wakeup", sizeof(uint32_t), sizeof(uint64_t), 1, nullptr));
  if (!wakeup_fd_.valid()) return LibbpfStatus(wakeup_fd_.get(), "create wake-up map");
  return absl::OkStatus();
}

void ProbeSet::OpenCgroupRoot(const LoaderConfig& config) {
  std::string root = config.cgroup_root;
  if (root.empty()) {
    auto found = FindCgroup2Mount();
    if (!found.ok()) {
      cgroup_error_ = absl::StrCat("no cgroup2 root to attach to: ", found.status().message());
      return;
    }
    root = *std::move(found);
  }
  cgroup_fd_ = UniqueFd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup_fd_.valid())
    cgroup_error_ = std::string(ErrnoStatus(errno, absl::StrCat("open cgroup2 root ", root)).message());
}

absl::StatusOr<std::unique_ptr<ProbeSet>> ProbeSet::Load(const LoaderConfig& given,
                                                         const std::vector<FamilySpec>& families) {
  libbpf_set_print(LibbpfPrint);
  // Relative sensitive entries expanded once, here: every family and every
  // hook tried then sees the same list, so the file programs' head bitmap
  // (built at open) and their trie (filled after load) cannot differ.
  LoaderConfig config = given;
  config.file.sensitive = ExpandHomePaths(given.file.sensitive);
  // A name that matches nothing is a typo that would leave probes on.
  for (const std::string& d : config.disabled) {
    bool known = false;
    for (const FamilySpec& family : families) {
      for (const ProbeSpec& probe : family.probes)
        known |= Disabled(LoaderConfig{.disabled = {d}}, family.name, probe.name);
    }
    if (!known) return absl::InvalidArgumentError(absl::StrCat("nothing to disable named \"", d, "\""));
  }
  std::unique_ptr<ProbeSet> set(new ProbeSet());
  if (absl::Status s = set->CreateSharedMaps(config); !s.ok()) return s;
  if (config.quiet_self) {
    if (absl::Status s = AddDaemon(set->daemons_fd_.get(), static_cast<uint32_t>(getpid())); !s.ok()) return s;
  }
  set->OpenCgroupRoot(config);
  for (const FamilySpec& family : families) set->LoadFamily(family, config);

  bool any = false;
  for (const ProbeState& p : set->probes()) {
    any |= p.attached;
    if (p.disabled) {
      Logger("loader")->info("probe {}/{}: disabled", p.family, p.name);
    } else if (p.attached) {
      Logger("loader")->info("probe {}/{}: attached via {}", p.family, p.name, p.hook);
    } else {
      Logger("loader")->warn("probe {}/{}: not available: {}", p.family, p.name,
                             p.notes.empty() ? "unknown" : p.notes.back());
    }
  }
  if (!any) return absl::FailedPreconditionError("no probe could be attached on this kernel (see the log above)");
  return set;
}

absl::StatusOr<std::unique_ptr<BpfObject>> ProbeSet::TryLoad(const FamilySpec& family, const LoaderConfig& config,
                                                             const Hooks& k, const std::vector<int>& choice,
                                                             std::string* error,
                                                             std::vector<uint32_t>* verified_insns) {
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  if (!config.kernel_btf.empty()) opts.btf_custom_path = config.kernel_btf.c_str();
  auto obj = family.open(&opts, config);
  if (!obj.ok()) return obj.status();
  if ((*obj)->abi_version() != VIGIL_ABI_VERSION) {
    return absl::FailedPreconditionError(absl::StrCat("BPF object ", family.name, " has ABI version ",
                                                      (*obj)->abi_version(), ", the sensor ", VIGIL_ABI_VERSION));
  }
  (*obj)->set_preempt_kfuncs(k.preempt_kfuncs);
  (*obj)->set_task_btf(k.task_btf);
  (*obj)->set_wakeup_interval_ns(absl::ToInt64Nanoseconds(config.wakeup_interval));
  bpf_object* o = (*obj)->object();
  // By name: every family's object has them, from vigil_common.bpf.h.
  for (auto [name, fd] : {std::pair{"vigil_events", ring_fd_.get()},
                          {"vigil_stats", stats_fd_.get()},
                          {"vigil_scratch", scratch_fd_.get()},
                          {"vigil_daemons", daemons_fd_.get()},
                          {"vigil_wakeup", wakeup_fd_.get()}}) {
    bpf_map* map = bpf_object__find_map_by_name(o, name);
    if (map == nullptr) continue;
    if (int err = bpf_map__reuse_fd(map, fd); err != 0) return LibbpfStatus(err, absl::StrCat("reuse map ", name));
  }
  bpf_program* prog;
  bpf_object__for_each_program(prog, o) bpf_program__set_autoload(prog, false);
  std::vector<std::string> logs(family.probes.size());  // per probe, when config.verifier_stats
  for (size_t i = 0; i < family.probes.size(); ++i) {
    if (choice[i] < 0) continue;
    for (const HookTarget& t : PresentTargets(k, family.probes[i].candidates[choice[i]])) {
      bpf_program__set_autoload(bpf_object__find_program_by_name(o, t.program), true);
    }
    // Statistics of the candidate's main program, the one status names.
    if (config.verifier_stats) {
      bpf_program* chosen = bpf_object__find_program_by_name(o, family.probes[i].candidates[choice[i]].program);
      logs[i].resize(kStatsLogSize);
      bpf_program__set_log_buf(chosen, logs[i].data(), logs[i].size());
      bpf_program__set_log_level(chosen, kLogStats);
    }
  }
  tl_last_error.clear();
  if (int err = bpf_object__load(o); err != 0) {
    *error = tl_last_error.empty() ? std::string(LibbpfStatus(err, "load").message()) : tl_last_error;
    // With a log buffer of ours libbpf prints no log: add the verifier's
    // reason from the program that failed, the last one that logged.
    for (auto log = logs.rbegin(); log != logs.rend(); ++log) {
      if (log->empty() || (*log)[0] == '\0') continue;
      if (std::string why = VerifierError(log->c_str()); !why.empty()) absl::StrAppend(error, ": ", why);
      break;
    }
    return LibbpfStatus(err, absl::StrCat("load ", family.name, ": ", *error));
  }
  if (verified_insns != nullptr) {
    verified_insns->assign(family.probes.size(), 0);
    for (size_t i = 0; i < logs.size(); ++i) (*verified_insns)[i] = ProcessedInsns(logs[i].c_str());
  }
  if (family.after_load) {
    if (absl::Status s = family.after_load(**obj, config); !s.ok()) {
      *error = std::string(s.message());
      return s;
    }
  }
  return obj;
}

void ProbeSet::LoadFamily(const FamilySpec& family, const LoaderConfig& config) {
  absl::MutexLock lock(&probes_mu_);
  const BtfPtr vmlinux(config.kernel_btf.empty() ? btf__load_vmlinux_btf()
                                                 : btf__parse(config.kernel_btf.c_str(), nullptr));
  if (!fentry_ && config.hooks == HookPolicy::kBest) {
    for (const ProbeSpec& spec : family.probes) {
      for (const HookCandidate& cand : spec.candidates) {
        // A function this kernel lacks says nothing about trampolines.
        if (cand.hook != Hook::kFentry || fentry_ || Disabled(config, family.name, spec.name) || !vmlinux ||
            btf__find_by_name_kind(vmlinux.get(), cand.target, BTF_KIND_FUNC) < 0) {
          continue;
        }
        fentry_ = ProbeFentry(vmlinux.get(), cand.target);
        if (fentry_->ok()) {
          Logger("loader")->info("fentry programs work on this kernel");
        } else {
          Logger("loader")->info("fentry programs do not work on this kernel: {}", fentry_->message());
        }
      }
    }
  }
  const Hooks k{vmlinux.get(),
                cgroup_fd_.get(),
                cgroup_error_,
                fentry_ ? &*fentry_ : nullptr,
                vmlinux && btf__find_by_name_kind(vmlinux.get(), "bpf_preempt_disable", BTF_KIND_FUNC) >= 0,
                libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_task_btf, nullptr) == 1 &&
                    libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_task_storage_get, nullptr) == 1};
  const size_t first = probes_.size();
  std::vector<int> choice(family.probes.size(), -1);

  // Static checks first: skip candidates whose hook this kernel lacks.
  for (size_t i = 0; i < family.probes.size(); ++i) {
    const ProbeSpec& spec = family.probes[i];
    ProbeState state{family.name, spec.name, "", false, {}, "", 0};
    if (Disabled(config, family.name, spec.name)) {
      state.disabled = true;
      state.notes.push_back("disabled by config");
      probes_.push_back(std::move(state));
      continue;
    }
    for (size_t c = 0; c < spec.candidates.size() && choice[i] < 0; ++c) {
      const HookCandidate& cand = spec.candidates[c];
      if (config.hooks == HookPolicy::kTracepointOnly && cand.hook != Hook::kRawTp && cand.hook != Hook::kTracepoint) {
        state.notes.push_back(absl::StrCat(HookName(cand.hook), ": skipped, tracepoint-only mode"));
        continue;
      }
      if (std::string why; HookPresent(k, cand, &why)) {
        choice[i] = static_cast<int>(c);
      } else {
        state.notes.push_back(absl::StrCat(HookName(cand.hook), ": ", why));
      }
    }
    probes_.push_back(std::move(state));
  }
  if (std::all_of(choice.begin(), choice.end(), [](int c) { return c < 0; })) {
    // Nothing to load: no object, so a disabled family costs nothing.
    return;
  }

  // Load everything chosen at once; on failure, find the programs this
  // kernel's verifier refuses, one probe at a time, and fall back for those.
  std::string error;
  std::vector<uint32_t> insns;
  tl_trial = true;
  auto obj = TryLoad(family, config, k, choice, &error, &insns);
  if (!obj.ok()) {
    for (size_t i = 0; i < family.probes.size(); ++i) {
      while (choice[i] >= 0) {
        std::vector<int> alone(family.probes.size(), -1);
        alone[i] = choice[i];
        if (TryLoad(family, config, k, alone, &error).ok()) break;
        const HookCandidate& cand = family.probes[i].candidates[choice[i]];
        probes_[first + i].notes.push_back(absl::StrCat(HookName(cand.hook), ": ", error));
        choice[i] = choice[i] + 1 < static_cast<int>(family.probes[i].candidates.size()) ? choice[i] + 1 : -1;
      }
    }
    obj = TryLoad(family, config, k, choice, &error, &insns);
  }
  tl_trial = false;
  if (!obj.ok()) {
    for (size_t i = 0; i < family.probes.size(); ++i)
      probes_[first + i].notes.push_back(std::string(obj.status().message()));
    return;
  }

  // Once attached, the object is closed: libbpf keeps each program's
  // instructions, the object's BTF and its relocation data for the object's
  // life, ~2 MiB over the four families that nothing reads again. The
  // kernel keeps what runs: links hold their programs, programs their maps,
  // and a tail-call table its programs while a file descriptor of it is
  // open, so those and the programs' own (for their statistics) are kept.
  // Out of descriptors, it stays open instead.
  bool keep_object = false;
  auto dup = [&keep_object](int fd) {
    UniqueFd copy(fcntl(fd, F_DUPFD_CLOEXEC, 0));
    keep_object |= !copy.valid();
    return copy;
  };
  bpf_map* map;
  bpf_object__for_each_map(map, (*obj)->object()) {
    if (bpf_map__type(map) != BPF_MAP_TYPE_PROG_ARRAY) continue;
    tail_tables_.push_back({dup(bpf_map__fd(map)), bpf_map__max_entries(map)});
  }
  for (size_t i = 0; i < family.probes.size(); ++i) {
    if (choice[i] < 0) continue;
    const HookCandidate& cand = family.probes[i].candidates[choice[i]];
    ProbeState& state = probes_[first + i];
    state.hook = HookName(cand.hook);
    state.program = cand.program;
    state.verified_insns = insns[i];
    state.attached = true;
    std::vector<int> object_fds;  // state.program_fds, as the object has them
    for (const HookTarget& t : PresentTargets(k, cand)) {
      bpf_program* prog = bpf_object__find_program_by_name((*obj)->object(), t.program);
      if (const int fd = bpf_program__fd(prog);
          std::find(object_fds.begin(), object_fds.end(), fd) == object_fds.end()) {
        object_fds.push_back(fd);
        state.program_fds.push_back(programs_.emplace_back(dup(fd)).get());
      }
      BpfLinkPtr link(Attach(prog, cand.hook, t.target, cgroup_fd_.get()));
      if (link == nullptr) {
        state.notes.push_back(
            std::string(LibbpfStatus(-errno, absl::StrCat("attach ", state.hook, " ", t.target)).message()));
        state.attached = false;
        continue;
      }
      links_.push_back(std::move(link));
    }
  }
  if (keep_object) {
    Logger("loader")->warn("family {}: out of file descriptors; its BPF object stays open", family.name);
    open_objects_.push_back(*std::move(obj));
  }
}

absl::StatusOr<KernelCounters> ProbeSet::ReadCounters() const {
  const int ncpus = libbpf_num_possible_cpus();
  // Per-CPU values come back one after another, each rounded up to 8 bytes.
  std::vector<vigil_stats> per_cpu(static_cast<size_t>(ncpus));
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(stats_fd_.get(), &zero, per_cpu.data()) != 0) return LibbpfStatus(-errno, "read counters");
  KernelCounters sum{};
  for (const vigil_stats& cpu : per_cpu) {
    for (size_t k = 0; k < VIGIL_KIND_MAX; ++k) {
      for (size_t c = 0; c < VIGIL_CNT_MAX; ++c) sum[k][c] += cpu.counters[k][c];
    }
  }
  return sum;
}

void ProbeSet::Detach() {
  links_.clear();
  absl::MutexLock lock(&probes_mu_);
  for (ProbeState& p : probes_) p.attached = false;
}

std::vector<ProbeState> ProbeSet::probes() const {
  std::vector<ProbeState> out;
  {
    absl::MutexLock lock(&probes_mu_);
    out = probes_;
  }
  for (ProbeState& p : out) {
    for (const int fd : p.program_fds) {
      bpf_prog_info info{};
      uint32_t len = sizeof(info);
      if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) p.missed += info.recursion_misses;
    }
  }
  return out;
}

ProbeSet::~ProbeSet() {
  Detach();
  // Tail-call tables hold their programs until the kernel clears them, which
  // it does only later, from a work queue, once the last fd is closed: empty
  // them here so every program is gone when the sensor is.
  for (const TailTable& table : tail_tables_) {
    for (uint32_t key = 0; key < table.entries; ++key) bpf_map_delete_elem(table.fd.get(), &key);
  }
  // The programs, the tables, the shared maps and the cgroup close with
  // their owners, after this.
}

}  // namespace vigil
