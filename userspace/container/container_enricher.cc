#include "container/container_enricher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.h"
#include "common/rate_limit.h"
#include "common/status.h"
#include "common/thread_name.h"
#include "common/utf8.h"

namespace vigil {

namespace {

// The clients to ask for a container, the one its cgroup path names first.
std::vector<RuntimeClient*> InOrder(const std::vector<std::unique_ptr<RuntimeClient>>& clients,
                                    const std::string& hint) {
  std::vector<RuntimeClient*> first, rest;
  for (const auto& c : clients) {
    const bool named = (hint == "cri-o" && c->name() == "cri") || (!hint.empty() && c->name() == hint);
    (named ? first : rest).push_back(c.get());
  }
  first.insert(first.end(), rest.begin(), rest.end());
  return first;
}

// The message may quote cgroup paths and runtime answers: escaped.
void Warn(RateLimit& limit, const absl::Status& s) {
  if (uint64_t held; limit.Allow(held))
    Logger("container")->warn("{} ({} more like it)", EscapeControls(s.message()), held);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ContainerEnricher>> ContainerEnricher::Create(
    ContainerEnricherOptions options, std::vector<std::unique_ptr<RuntimeClient>> clients) {
  auto tree = CgroupTree::Open({.root = options.cgroup_root,
                                .removed_grace = options.removed_grace,
                                .max_removed = options.max_cgroups,
                                .now = options.now});
  if (!tree.ok()) return tree.status();
  Logger("container")->info("{} cgroups under {}; runtimes: {}", (*tree)->size(), (*tree)->root(), clients.size());
  return std::unique_ptr<ContainerEnricher>(
      new ContainerEnricher(std::move(options), *std::move(tree), std::move(clients)));
}

ContainerEnricher::ContainerEnricher(ContainerEnricherOptions options, std::unique_ptr<CgroupTree> tree,
                                     std::vector<std::unique_ptr<RuntimeClient>> clients)
    : options_(std::move(options)),
      tree_(std::move(tree)),
      clients_(std::move(clients)),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      cgroups_(options_.max_cgroups, options_.now),
      metadata_(options_.max_containers, options_.now) {
  resolver_ = std::thread([this] { ResolveLoop(); });
  NameThread(resolver_, "vigil-cresolve");
  fetcher_ = std::thread([this] { FetchLoop(); });
  NameThread(fetcher_, "vigil-cfetch");
  for (const auto& c : clients_) watchers_.emplace_back([this, c = c.get()] { WatchLoop(c); });
}

ContainerEnricher::~ContainerEnricher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    fetch_cv_.Signal();
    stop_cv_.SignalAll();
  }
  Wake();
  for (const auto& c : clients_) c->CancelWatch();
  for (auto& t : watchers_) t.join();
  resolver_.join();
  fetcher_.join();
  close(wake_fd_);
}

void ContainerEnricher::Wake() {
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void ContainerEnricher::SetWake(std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  wake_pipeline_ = std::move(wake);
}

void ContainerEnricher::Notify() {
  std::function<void()> wake;
  {
    absl::MutexLock lock(&mu_);
    wake = wake_pipeline_;
  }
  if (wake) wake();
}

ContainerEnricher::CgroupEntry& ContainerEnricher::Lookup(uint64_t cgroup_id) {
  ExpireRemoved();
  auto [entry, inserted] = cgroups_.FindOrInsert(cgroup_id);
  if (inserted) {
    entry->wait_until = options_.now() + options_.pending_wait;
    requests_.push_back(cgroup_id);
    Wake();
  }
  return *entry;
}

uint64_t ContainerEnricher::WaitKey(const v1::Event& event) {
  if (!event.has_workload() || event.workload().cgroup_id() == 0) return 0;
  absl::MutexLock lock(&mu_);
  Lookup(event.workload().cgroup_id());
  return event.workload().cgroup_id();
}

absl::Time ContainerEnricher::WaitUntil(uint64_t cgroup_id) {
  absl::MutexLock lock(&mu_);
  const CgroupEntry* entry = cgroups_.Peek(cgroup_id);
  return entry == nullptr || Settled(*entry) ? absl::InfinitePast() : entry->wait_until;
}

void ContainerEnricher::Enrich(v1::Event& event) {
  if (!event.has_workload() || event.workload().cgroup_id() == 0) return;
  v1::Workload& w = *event.mutable_workload();
  absl::MutexLock lock(&mu_);
  Fill(Lookup(w.cgroup_id()), w);
}

bool ContainerEnricher::Settled(const CgroupEntry& e) const {
  return e.resolved && (e.container.container_id.empty() || metadata_.Peek(e.container.container_id) != nullptr);
}

void ContainerEnricher::Fill(const CgroupEntry& entry, v1::Workload& w) {
  if (!entry.resolved) {
    w.set_metadata_pending(true);
    metadata_timeouts_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!entry.path_known) return;
  const CgroupContainer& c = entry.container;
  if (c.host()) {
    w.set_host(true);
    return;
  }
  w.set_runtime(c.runtime);
  w.set_pod_uid(c.pod_uid);
  if (c.container_id.empty()) return;  // a pod's own cgroup
  w.set_container_id(c.container_id);
  const MetadataEntry* m = metadata_.Find(c.container_id);
  if (m == nullptr) {
    w.set_metadata_pending(true);
    metadata_timeouts_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const ContainerMetadata& md = m->metadata;
  if (w.runtime().empty() && m->runtime != "cri") w.set_runtime(m->runtime);
  w.set_container_name(md.name);
  w.set_image(md.image);
  w.set_image_digest(md.image_digest);
  w.set_pod_name(md.pod_name);
  w.set_pod_namespace(md.pod_namespace);
  if (!md.pod_uid.empty()) w.set_pod_uid(md.pod_uid);
}

void ContainerEnricher::ExpireRemoved() {
  cgroups_.ExpireDue();
  metadata_.ExpireDue();
}

template <typename Cache, typename Key>
void ContainerEnricher::MarkRemoved(Cache& cache, const Key& key) {
  if (cache.ExpiryOf(key) == absl::InfiniteFuture()) cache.ExpireAt(key, options_.now() + options_.removed_grace);
}

void ContainerEnricher::Store(const std::string& container_id, ContainerMetadata metadata, std::string runtime,
                              StoreReason reason) {
  {
    absl::MutexLock lock(&mu_);
    MetadataEntry& entry = *metadata_.FindOrInsert(container_id).first;
    entry.metadata = std::move(metadata);
    entry.runtime = std::move(runtime);
    // A lookup's answer that crossed the runtime's removal must not undo it; a
    // creation (also of an id used before) does.
    if (reason == StoreReason::kCreated) metadata_.ExpireAt(container_id, absl::InfiniteFuture());
    missing_.erase(container_id);
  }
  Notify();
}

bool ContainerEnricher::FetchMetadata(const std::string& container_id, const std::string& runtime_hint) {
  static RateLimit limit(absl::Seconds(10));
  bool unreachable = false;
  for (RuntimeClient* client : InOrder(clients_, runtime_hint)) {
    auto md = client->Lookup(container_id);
    if (md.ok()) {
      Store(container_id, *std::move(md), std::string(client->name()), StoreReason::kLookedUp);
      return true;
    }
    if (absl::IsNotFound(md.status())) continue;
    runtime_errors_.fetch_add(1, std::memory_order_relaxed);
    unreachable = true;
    Warn(limit, md.status());
  }
  if (unreachable) return false;
  // No runtime knows it: the event keeps what its cgroup path says.
  Store(container_id, ContainerMetadata{}, "", StoreReason::kLookedUp);
  return true;
}

void ContainerEnricher::Resolve(uint64_t cgroup_id) {
  static RateLimit limit(absl::Seconds(10));
  std::optional<CgroupTree::Found> found = tree_->Find(cgroup_id);
  if (!found && absl::Now() >= next_rescan_) {
    // inotify has been read: an unknown id is a cgroup that predates a queue
    // overflow, or one gone past its grace. Bounded, as a walk costs.
    tree_->Rescan();
    next_rescan_ = absl::Now() + absl::Seconds(1);
    found = tree_->Find(cgroup_id);
  }
  CgroupEntry resolved;
  resolved.path_known = found.has_value();
  if (found) {
    auto parsed = ParseCgroupPath(found->path);
    if (parsed.ok()) {
      resolved.container = *std::move(parsed);
    } else {
      resolved.path_known = false;
      Warn(limit, parsed.status());
    }
  }
  absl::MutexLock lock(&mu_);
  const std::string& cid = resolved.container.container_id;
  if (!cid.empty() && metadata_.Peek(cid) == nullptr) {
    fetches_.emplace_back(cid, resolved.container.runtime);
    fetch_cv_.Signal();
  }
  CgroupEntry* entry = cgroups_.Find(cgroup_id);
  if (entry == nullptr) return;  // evicted meanwhile
  entry->resolved = true;
  entry->path_known = resolved.path_known;
  entry->container = std::move(resolved.container);
  // Removed already: its removal was read before its first event (a
  // container that lived for one /bin/true), so no removal will come. It
  // expires like a removed one; an event after that resolves it anew.
  if (!found || found->removed) MarkRemoved(cgroups_, cgroup_id);
}

void ContainerEnricher::RetryMissing() {
  absl::flat_hash_map<std::string, std::string> missing;
  {
    absl::MutexLock lock(&mu_);
    missing = missing_;
  }
  for (const auto& [cid, hint] : missing) {
    if (!FetchMetadata(cid, hint)) return;  // still unreachable: try again next round
  }
}

void ContainerEnricher::ResolveLoop() {
  for (;;) {
    pollfd fds[2] = {{.fd = tree_->fd(), .events = POLLIN, .revents = 0},
                     {.fd = wake_fd_, .events = POLLIN, .revents = 0}};
    int wait_ms = 1000;  // removed entries expire even when nothing happens
    {
      absl::MutexLock lock(&mu_);
      if (syncs_ > 0) wait_ms = 0;  // a Sync() waits for rounds, not for news
    }
    poll(fds, 2, wait_ms);
    if (fds[1].revents & POLLIN) {
      uint64_t n;
      (void)!read(wake_fd_, &n, sizeof(n));
    }
    // Cgroups made since the last round are known before the requests for them.
    tree_->ReadEvents([this](uint64_t id) {
      absl::MutexLock lock(&mu_);
      MarkRemoved(cgroups_, id);
    });
    std::deque<uint64_t> requests;
    {
      absl::MutexLock lock(&mu_);
      ExpireRemoved();
      if (stopping_) return;
      requests.swap(requests_);
    }
    for (uint64_t id : requests) Resolve(id);
    // Host cgroups and containers already known are settled now.
    if (!requests.empty()) Notify();
    absl::MutexLock lock(&mu_);
    ++rounds_;
  }
}

void ContainerEnricher::FetchLoop() {
  absl::Time next_retry = absl::Now() + options_.retry_interval;
  for (;;) {
    std::deque<std::pair<std::string, std::string>> fetches;
    {
      absl::MutexLock lock(&mu_);
      while (fetches_.empty() && !stopping_ && !fetch_cv_.WaitWithDeadline(&mu_, next_retry)) {
      }
      if (stopping_) return;
      fetches.swap(fetches_);
    }
    for (const auto& [cid, hint] : fetches) {
      bool known;
      {
        absl::MutexLock lock(&mu_);
        known = metadata_.Peek(cid) != nullptr;
      }
      if (known || FetchMetadata(cid, hint)) continue;
      absl::MutexLock lock(&mu_);
      missing_[cid] = hint;
    }
    if (absl::Now() >= next_retry) {
      RetryMissing();
      next_retry = absl::Now() + options_.retry_interval;
    }
  }
}

void ContainerEnricher::Sync() {
  absl::MutexLock lock(&mu_);
  // The round under way may have read its events before the call: the one
  // after it has not.
  const uint64_t target = rounds_ + 2;
  ++syncs_;
  Wake();
  auto done = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return rounds_ >= target || stopping_; };
  mu_.Await(absl::Condition(&done));
  --syncs_;
}

void ContainerEnricher::WatchLoop(RuntimeClient* client) {
  static RateLimit limit(absl::Seconds(30));
  for (;;) {
    absl::Status s = client->Watch([this, client](const ContainerChange& change) {
      if (change.removed) {
        absl::MutexLock lock(&mu_);
        // Also when not known yet: a lookup still in flight then stores into
        // this removed entry, which expires.
        metadata_.FindOrInsert(change.container_id);
        MarkRemoved(metadata_, change.container_id);
        missing_.erase(change.container_id);
        return;
      }
      auto md = client->Lookup(change.container_id);
      if (md.ok()) Store(change.container_id, *std::move(md), std::string(client->name()), StoreReason::kCreated);
    });
    if (absl::IsUnimplemented(s)) return;
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    Warn(limit, s);
    const absl::Time retry = absl::Now() + options_.retry_interval;
    while (!stopping_ && !stop_cv_.WaitWithDeadline(&mu_, retry)) {
    }
    if (stopping_) return;
  }
}

ContainerCacheStats ContainerEnricher::Stats() const {
  absl::MutexLock lock(&mu_);
  return {.size = cgroups_.size(),
          .evictions = cgroups_.evictions() + metadata_.evictions(),
          .metadata_timeouts = metadata_timeouts_.load(std::memory_order_relaxed),
          .runtime_errors = runtime_errors_.load(std::memory_order_relaxed),
          .containers = metadata_.size()};
}

void ContainerEnricher::Report(std::vector<StageReport>& out) const {
  const ContainerCacheStats s = Stats();
  StageReport& r = out.emplace_back();
  r.name = "containers";
  std::string runtimes;
  for (const auto& c : clients_) absl::StrAppend(&runtimes, runtimes.empty() ? "" : ",", c->name());
  r.notes["runtimes"] = runtimes.empty() ? "none" : runtimes;
  r.Gauge("cgroups", "vigil_container_cgroup_cache_entries", "Cgroups in the container enricher's cache.", s.size);
  r.Gauge("containers", "vigil_container_metadata_cache_entries", "Containers whose metadata is cached.", s.containers);
  r.Counter("evictions", "vigil_container_cache_evictions_total", "Cgroups evicted from the full cache.", s.evictions);
  r.Counter("metadata_timeouts", "vigil_container_metadata_timeouts_total",
            "Events sent without container metadata because the runtimes did not answer in time.", s.metadata_timeouts);
  r.Counter("runtime_errors", "vigil_container_runtime_errors_total",
            "Failed calls to the container runtimes (unreachable, bad answer).", s.runtime_errors);
}

}  // namespace vigil
