#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/lru_cache.h"
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
  Clock now = CoarseNow;
};

// Knows every process by exec_id: what it runs (exe, argv, cwd) and who its
// parent is. Fills those into events that the kernel sent without them, and
// the ancestor chain into exec events. Bounded: least recently used entries
// go first when full, exited ones after a grace period.
class ProcessCache : public Enricher, public ProcessView {
 public:
  explicit ProcessCache(ProcessCacheOptions options)
      : options_(std::move(options)), entries_(options_.max_entries, options_.now) {}

  // Learns the processes already running, so they have lineage too.
  // Returns how many were learned.
  size_t SeedFromProc();

  // Sets an exec's ancestors and clears any other event's. An event's
  // ancestors are this cache's alone: those it wrote into the same event
  // object (the pipeline decodes into one per kind), from entries unchanged
  // since, are kept as they are.
  void Enrich(v1::Event& event) override;
  const CachedProcess* Lookup(absl::string_view exec_id) const override;
  const CachedProcess* Parent(const CachedProcess& process) const override;

  // Safe to call from any thread.
  size_t size() const { return entries_.size(); }
  uint64_t evictions() const { return entries_.evictions(); }
  void Report(std::vector<StageReport>& out) const override;

 private:
  // An exec id of this node, as the numbers it is made of: 16 bytes in the
  // entry, where the string would be one more allocation per process.
  struct Key {
    uint64_t start_ticks = 0;
    uint32_t pid = 0;
    bool operator==(const Key&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.start_ticks, k.pid);
    }
  };
  // False for an exec id this node's sensor did not make: never cached.
  bool ToKey(absl::string_view exec_id, Key& key) const;

  // Identity and what it runs; no tid. An exited process has a deadline.
  CachedProcess& Insert(const Key& key, const v1::Process& process);
  // Tries /proc for a process the cache missed (started before a gap).
  CachedProcess* LearnFromProc(const Key& key, const v1::Process& seen);
  void AddAncestors(v1::Event& event);

  ProcessCacheOptions options_;
  LruCache<Key, CachedProcess> entries_;  // by exec id
  uint64_t writes_ = 0;                   // the last generation given to an entry
  // Which entry, as of which write, each ancestor of the last exec event
  // came from, and that event: the next exec into the same event (the
  // pipeline reuses one per kind) keeps the ancestors that did not change,
  // as those of a shell's or a job runner's children do not.
  struct Restored {
    Key key;
    uint64_t generation = 0;
    bool operator==(const Restored&) const = default;
  };
  std::vector<Restored> restored_;
  const v1::Event* restored_into_ = nullptr;
};

}  // namespace vigil
