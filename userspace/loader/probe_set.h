#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "loader/file_filter.h"
#include "loader/owners.h"
#include "vigil_abi.h"

struct bpf_object;
struct bpf_object_open_opts;

namespace vigil {

enum class HookPolicy {
  kBest,            // the best hook each kernel offers
  kTracepointOnly,  // only raw tracepoints: no BTF-typed attach, no kprobes
};

struct LoaderConfig {
  HookPolicy hooks = HookPolicy::kBest;
  uint32_t ring_buffer_bytes = 8u << 20;  // power of two, >= page size
  uint32_t max_arg_bytes = 8192;          // <= VIGIL_ARGS_MAX
  // The probes wake the ring buffer's reader at most once per interval (or
  // when an eighth of the buffer waits): fewer wake-ups, a longer wait. The
  // reader polls as often, for the records that woke nobody.
  absl::Duration wakeup_interval = absl::Milliseconds(40);
  std::string kernel_btf;                 // empty: the running kernel's
  uint32_t tcp_socket_entries = 16384;    // TCP sockets whose owning process is remembered until close
  uint32_t net_pending_entries = 4096;    // threads inside a network syscall at once
  uint32_t file_pending_entries = 16384;  // threads inside a reported file syscall at once
  // Threads inside a watched security syscall at once; a quarter of this
  // many for the calls whose records carry path-sized strings (mount, module
  // loads, memfd_create).
  uint32_t security_pending_entries = 4096;
  std::string cgroup_root;  // cgroup2 mount for kCgroupSkb; empty: from /proc/self/mountinfo
  // Ask the verifier for its statistics (--self_test); fills
  // ProbeState::verified_insns.
  bool verifier_stats = false;
  // Test only (--self_test_break): the probe whose programs are made to need
  // a newer kernel than some that Vigil supports, to prove the kernel matrix
  // catches a verifier rejection. Empty: none.
  std::string break_probe;
  // Security family, kernels without module support only: see module-load
  // attempts on the raw syscall tracepoints, which cost every syscall.
  bool module_syscall_fallback = false;
  // Probes not loaded at all: a family ("file"), a probe ("open") or both
  // ("file/open"). Their programs are switched off before load.
  std::vector<std::string> disabled;
  FileFilterConfig file;
  // The loading process's own calls are not reported (loader/daemons.h).
  // Off for --self_test, whose checks make from the sensor's own process the
  // very calls they look for.
  bool quiet_self = true;
};

// Hook kinds, in the order a family usually prefers them. Tracepoints are the
// stable ABI and exist where kprobes are compiled out; the others are used
// where they give data a tracepoint cannot.
enum class Hook {
  kTpBtf,       // BTF-typed raw tracepoint (5.5+), target "category/name"
  kRawTp,       // raw tracepoint (4.17+), target "category/name"
  kTracepoint,  // classic tracepoint with its format struct, target "category/name"
  kFentry,      // BPF trampoline, fentry or fexit (5.5+, not on every kernel config), target: kernel function
  kKprobe,      // kprobe, target: kernel function
  // cgroup_skb program on the root of cgroup2 (4.10+): every IP packet of a
  // local socket, whatever syscall moved it; target "egress" or "ingress"
  // (the direction is the program's SEC() name, the target only says it).
  kCgroupSkb,
};
const char* HookName(Hook hook);

// A program of a family's object and where it attaches.
struct HookTarget {
  const char* program;
  const char* target;
};

// One way to attach a probe: a program in the family's object.
struct HookCandidate {
  const char* program;
  Hook hook;
  const char* target;
  // More attachments of the same hook kind that make up this candidate (a
  // syscall's exit half, sibling syscalls; a program may repeat with another
  // target). Each is attached where this kernel has its target; the first
  // (program, target) above decides whether the candidate is usable.
  std::vector<HookTarget> more = {};
};

// A probe is what the user sees in `status` ("exec"); its candidates are
// ordered best first. The loader takes the first one this kernel has and
// its verifier accepts.
struct ProbeSpec {
  const char* name;
  std::vector<HookCandidate> candidates;
};

// Where a probe ended up, for logs and `vigilctl status`.
struct ProbeState {
  std::string family;
  std::string name;
  std::string hook;  // empty when no candidate works here
  bool attached = false;
  std::vector<std::string> notes;  // why candidates were passed over, attach errors
  std::string program;             // the BPF program loaded for it
  uint32_t verified_insns = 0;     // instructions the verifier processed (0: not measured)
  bool disabled = false;           // switched off by LoaderConfig::disabled
  // Runs of its programs the kernel skipped because one of them was already
  // running on that CPU (bpf_prog_info.recursion_misses, 5.12+). A kernel
  // that preempts BPF programs skips another task's run meanwhile: each is an
  // event lost before any probe code ran, so it is counted here.
  uint64_t missed = 0;
  std::vector<int> program_fds;  // owned by the ProbeSet
};

// A BPF object of one family, type-erased over its skeleton.
class BpfObject {
 public:
  virtual ~BpfObject() = default;
  virtual bpf_object* object() const = 0;
  virtual uint32_t abi_version() const = 0;
  // Whether the programs hold their CPU with bpf_preempt_disable() (vigil_common.bpf.h).
  virtual void set_preempt_kfuncs(bool available) = 0;
  // Whether the programs read the current task through bpf_get_current_task_btf()
  // and keep calls in task storage (both 5.11+).
  virtual void set_task_btf(bool available) = 0;
  // At most one ring buffer wake-up per this many ns (vigil_emit).
  virtual void set_wakeup_interval_ns(uint64_t ns) = 0;
};

struct FamilySpec {
  std::string name;
  std::vector<ProbeSpec> probes;
  // Opens a fresh object and writes the config into its read-only data.
  std::function<absl::StatusOr<std::unique_ptr<BpfObject>>(const bpf_object_open_opts*, const LoaderConfig&)> open;
  // Optional: fills the object's maps from the config after load, before
  // anything is attached (filter tables).
  std::function<absl::Status(BpfObject&, const LoaderConfig&)> after_load = nullptr;
};

// Kernel counters summed over CPUs: [kind][VIGIL_CNT_*].
using KernelCounters = std::array<std::array<uint64_t, VIGIL_CNT_MAX>, VIGIL_KIND_MAX>;

// Every probe family loaded into the kernel, sharing one ring buffer and one
// counter map. A probe that cannot load or attach is reported in probes(),
// never fatal: only a failure of everything is an error.
class ProbeSet {
 public:
  static absl::StatusOr<std::unique_ptr<ProbeSet>> Load(const LoaderConfig& config,
                                                        const std::vector<FamilySpec>& families);
  struct Hooks;  // what the kernel and host offer to attach to (probe_set.cc)
  ~ProbeSet();

  int ring_buffer_fd() const { return ring_fd_.get(); }
  // vigil_daemons: the processes whose calls no probe reports (DaemonMap).
  int daemons_fd() const { return daemons_fd_.get(); }
  // A copy: Detach() changes them while API and metrics threads read.
  std::vector<ProbeState> probes() const;
  absl::StatusOr<KernelCounters> ReadCounters() const;
  // Detaches every probe; maps stay readable until destruction.
  void Detach();

 private:
  ProbeSet() = default;
  absl::Status CreateSharedMaps(const LoaderConfig& config);
  // Opens the root of cgroup2 for cgroup hooks; on failure they are
  // unavailable and cgroup_error_ says why.
  void OpenCgroupRoot(const LoaderConfig& config);
  // `verified_insns` (one per probe) is filled when config.verifier_stats.
  absl::StatusOr<std::unique_ptr<BpfObject>> TryLoad(const FamilySpec& family, const LoaderConfig& config,
                                                     const Hooks& k, const std::vector<int>& choice, std::string* error,
                                                     std::vector<uint32_t>* verified_insns = nullptr);
  void LoadFamily(const FamilySpec& family, const LoaderConfig& config);

  UniqueFd ring_fd_;
  UniqueFd stats_fd_;
  UniqueFd scratch_fd_;
  UniqueFd daemons_fd_;
  UniqueFd wakeup_fd_;  // when the reader was last woken, shared like the ring buffer
  UniqueFd cgroup_fd_;
  std::string cgroup_error_;
  // ProbeFentry()'s answer, asked once, by the first family with an fentry
  // candidate; unset while none has asked.
  std::optional<absl::Status> fentry_;
  // The loaded objects' programs and tail-call tables; the objects are closed.
  std::vector<UniqueFd> programs_;
  struct TailTable {
    UniqueFd fd;
    uint32_t entries;
  };
  std::vector<TailTable> tail_tables_;
  std::vector<std::unique_ptr<BpfObject>> open_objects_;  // only when a copy above failed
  std::vector<BpfLinkPtr> links_;
  // Written by Load() before the set is shared, then only by Detach().
  mutable absl::Mutex probes_mu_;
  std::vector<ProbeState> probes_ ABSL_GUARDED_BY(probes_mu_);
};

}  // namespace vigil
