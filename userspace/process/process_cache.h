#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "pipeline/stage.h"
#include "process/process_view.h"
#include "vigil/v1/event.pb.h"

namespace vigil {

struct ProcessCacheOptions {
  std::string node;
  size_t max_entries = 32768;
  // An exited process stays this long, for its children's lineage and late events.
  absl::Duration exit_grace = absl::Seconds(30);
  uint32_t max_ancestors = 8;
  // argv read from /proc obeys the kernel's limits (bytes counted with each
  // argument's NUL), so a process that was running before the sensor is not
  // the one that carries a 100 KiB command line into every event.
  uint32_t max_arg_bytes = 8192;
  uint32_t max_args = 256;
  // An ancestor's argv is context, repeated in every exec below it; the whole
  // of it is in that ancestor's own exec event.
  uint32_t ancestor_arg_bytes = 1024;
  std::string proc_root = "/proc";
  std::function<absl::Time()> now = absl::Now;
};

// Knows every process by exec_id: what it runs (exe, argv, cwd) and who its
// parent is. Fills those into events that the kernel sent without them, and
// the ancestor chain into exec events. Bounded: least recently used entries
// go first when full, exited ones after a grace period.
class ProcessCache : public Enricher, public ProcessView {
 public:
  explicit ProcessCache(ProcessCacheOptions options) : options_(std::move(options)) {}

  // Learns the processes already running, so they have lineage too.
  // Returns how many were learned.
  size_t SeedFromProc();

  void Enrich(v1::Event& event) override;
  const v1::Process* Lookup(absl::string_view exec_id) const override;

  // Safe to call from any thread.
  size_t size() const { return size_.load(std::memory_order_relaxed); }
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }
  void Report(std::vector<StageReport>& out) const override;

 private:
  struct Entry {
    v1::Process process;  // identity and what it runs; no tid
    bool exited = false;
    std::list<std::string>::iterator lru;
  };

  Entry* Find(const std::string& exec_id);
  Entry& Insert(const v1::Process& process);
  // Tries /proc for a process the cache missed (started before a gap).
  Entry* LearnFromProc(const v1::Process& seen);
  void FillFrom(const Entry& entry, v1::Process& process) const;
  void AddAncestors(v1::Event& event);
  void ExpireExited();
  void EvictOverflow();

  ProcessCacheOptions options_;
  absl::flat_hash_map<std::string, Entry> entries_;
  std::list<std::string> lru_;                             // front: most recently used
  std::deque<std::pair<absl::Time, std::string>> exited_;  // (expiry, exec_id)
  std::atomic<size_t> size_{0};
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace vigil
