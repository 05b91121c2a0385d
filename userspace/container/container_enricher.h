#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/lru_cache.h"
#include "container/cgroup_path.h"
#include "container/cgroup_tree.h"
#include "container/runtime_clients.h"
#include "pipeline/stage.h"

namespace vigil {

struct ContainerEnricherOptions {
  std::string cgroup_root;       // cgroup2 mount; empty: from /proc/self/mountinfo
  size_t max_cgroups = 16384;    // cgroup id -> container entries; removed cgroups' paths
  size_t max_containers = 8192;  // container id -> runtime metadata entries
  // How long the events of a cgroup not resolved yet are parked for it,
  // from its first event on; later events of the cgroup do not wait.
  absl::Duration pending_wait = absl::Milliseconds(200);
  // Runtime lookups that failed because the runtime was unreachable are
  // retried this often, and so is a broken event stream.
  absl::Duration retry_interval = absl::Seconds(1);
  // A removed cgroup or container is kept this long for its late events
  // (the pipeline may still hold some when inotify or the runtime reports it),
  // and so is a removed cgroup's path for events not read yet at its removal.
  absl::Duration removed_grace = absl::Seconds(30);
  // The caches' deadlines and the wait for metadata read this clock.
  Clock now = CoarseNow;
};

struct ContainerCacheStats {
  uint64_t size = 0;  // cgroup entries
  uint64_t evictions = 0;
  uint64_t metadata_timeouts = 0;
  uint64_t runtime_errors = 0;
  uint64_t containers = 0;  // metadata entries
};

// Fills Workload (host, or container id, runtime, pod and image) from the
// event's cgroup id. The pipeline only reads a cache and never waits:
// an event of a cgroup not settled yet is parked by the pipeline (WaitKey,
// WaitUntil) and woken when it is. A resolver thread maps cgroup ids to paths
// (CgroupTree) and parses them, so host cgroups settle at once; a fetcher
// thread asks the runtimes, so a slow or hung runtime holds up only the
// events of its containers; one watcher thread per runtime with an event
// stream learns containers as they are created, so their first exec finds
// them known.
class ContainerEnricher : public Enricher {
 public:
  static absl::StatusOr<std::unique_ptr<ContainerEnricher>> Create(ContainerEnricherOptions options,
                                                                   std::vector<std::unique_ptr<RuntimeClient>> clients);
  ~ContainerEnricher() override;

  uint64_t WaitKey(const v1::Event& event) override;
  absl::Time WaitUntil(uint64_t cgroup_id) override;
  void SetWake(std::function<void()> wake) override;
  void Enrich(v1::Event& event) override;

  // Any thread.
  ContainerCacheStats Stats() const;
  void Report(std::vector<StageReport>& out) const override;
  // Returns once the resolver has read the cgroup removals and handled the
  // requests that came before the call: a point where what the kernel and
  // the pipeline said before is known.
  void Sync();

 private:
  // A removed cgroup or container (its cgroup is gone, the runtime deleted
  // it) has a deadline in its cache, removed_grace after the removal.
  struct CgroupEntry {
    bool resolved = false;    // path looked up, and metadata asked for when there is a container
    bool path_known = false;  // the cgroup was found and its path parsed
    absl::Time wait_until;    // events wait until then for the entry to settle
    CgroupContainer container;
  };
  struct MetadataEntry {
    ContainerMetadata metadata;
    std::string runtime;  // the client that answered
  };

  ContainerEnricher(ContainerEnricherOptions options, std::unique_ptr<CgroupTree> tree,
                    std::vector<std::unique_ptr<RuntimeClient>> clients);

  void Wake();
  // Tells the pipeline that parked events may go on.
  void Notify();
  // The cgroup's entry; a new one is queued for the resolver.
  CgroupEntry& Lookup(uint64_t cgroup_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ResolveLoop();
  void FetchLoop();
  void WatchLoop(RuntimeClient* client);
  void Resolve(uint64_t cgroup_id);
  // Asks the runtimes; true when one answered or all said NotFound.
  bool FetchMetadata(const std::string& container_id, const std::string& runtime_hint);
  void RetryMissing();
  void ExpireRemoved() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives a removed entry its deadline, once.
  template <typename Cache, typename Key>
  void MarkRemoved(Cache& cache, const Key& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  enum class StoreReason { kCreated, kLookedUp };
  void Store(const std::string& container_id, ContainerMetadata metadata, std::string runtime, StoreReason reason);
  // Resolved, and with metadata if it is a container (or the runtimes have none).
  bool Settled(const CgroupEntry& e) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Fill(const CgroupEntry& entry, v1::Workload& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ContainerEnricherOptions options_;
  std::unique_ptr<CgroupTree> tree_;  // resolver thread only
  absl::Time next_rescan_;            // resolver thread only
  std::vector<std::unique_ptr<RuntimeClient>> clients_;
  const int wake_fd_;  // eventfd: a request is queued, or stop

  mutable absl::Mutex mu_;
  // The fetcher and the watchers sleep on these, not on conditions of mu_:
  // a thread waiting in mu_.Await() makes every unlock of mu_ test its
  // condition (absl's slow unlock), and the pipeline locks mu_ per event.
  absl::CondVar fetch_cv_;  // fetches_ has work, or stopping_
  absl::CondVar stop_cv_;   // stopping_
  LruCache<uint64_t, CgroupEntry> cgroups_ ABSL_GUARDED_BY(mu_);
  LruCache<std::string, MetadataEntry> metadata_ ABSL_GUARDED_BY(mu_);  // by container id
  std::deque<uint64_t> requests_ ABSL_GUARDED_BY(mu_);
  // Containers to ask the runtimes about: (container id, runtime hint).
  std::deque<std::pair<std::string, std::string>> fetches_ ABSL_GUARDED_BY(mu_);
  std::function<void()> wake_pipeline_ ABSL_GUARDED_BY(mu_);
  // Containers whose runtime was unreachable: (container id, runtime hint).
  absl::flat_hash_map<std::string, std::string> missing_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t rounds_ ABSL_GUARDED_BY(mu_) = 0;  // resolver rounds done
  int syncs_ ABSL_GUARDED_BY(mu_) = 0;        // Sync() calls waiting

  std::atomic<uint64_t> metadata_timeouts_{0};
  std::atomic<uint64_t> runtime_errors_{0};

  std::thread resolver_;
  std::thread fetcher_;
  std::vector<std::thread> watchers_;
};

}  // namespace vigil
