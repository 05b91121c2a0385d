#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/cgroup2.h"
#include "common/clock.h"
#include "common/lru_cache.h"

namespace vigil {

struct CgroupTreeOptions {
  // Where cgroup2 is mounted; empty: found in /proc/self/mountinfo
  // (/sys/fs/cgroup on cgroup v2 nodes, /sys/fs/cgroup/unified on hybrid ones).
  std::string root;
  // A removed cgroup's path is still known this long, and for this many
  // removed cgroups at most: the events of a container that lived for
  // milliseconds are read after its cgroup is gone (the reader wakes in
  // batches), and must still name it.
  absl::Duration removed_grace = absl::Seconds(30);
  size_t max_removed = 16384;
  Clock now = CoarseNow;
};

// The cgroup v2 hierarchy's directories by cgroup id (the kernfs id that
// bpf_get_current_cgroup_id() and name_to_handle_at() give), kept current with
// inotify: a container's cgroup is known from its mkdir, before its first exec,
// to the end of its grace after its rmdir, while its last events may still be
// on their way.
// Not thread-safe: one thread owns it.
class CgroupTree {
 public:
  static absl::StatusOr<std::unique_ptr<CgroupTree>> Open(CgroupTreeOptions options);
  ~CgroupTree();
  CgroupTree(const CgroupTree&) = delete;
  CgroupTree& operator=(const CgroupTree&) = delete;

  // Walks the whole tree again (inotify queue overflow, an id not seen).
  void Rescan();
  // Readable when inotify has news; then call ReadEvents().
  int fd() const { return inotify_fd_; }
  // Takes what inotify has without waiting; `on_removed` gets the ids of
  // removed cgroups. Forgets the removed cgroups whose grace is over.
  void ReadEvents(const std::function<void(uint64_t id)>& on_removed);

  struct Found {
    std::string path;  // below the root ("/kubepods/..."), "/" for the root itself
    bool removed;      // gone, within its grace: its removal was reported already
  };
  std::optional<Found> Find(uint64_t id) const;
  size_t size() const { return paths_.size(); }
  size_t removed() const { return removed_.size(); }
  const std::string& root() const { return options_.root; }

 private:
  CgroupTree(CgroupTreeOptions options, int inotify_fd)
      : options_(std::move(options)), inotify_fd_(inotify_fd), removed_(options_.max_removed, options_.now) {}
  struct Node {
    uint64_t id;
    int wd;  // -1 when it could not be watched
  };
  // Adds `rel` and everything below it.
  void AddTree(const std::string& rel);
  void Add(const std::string& rel);
  void Remove(const std::string& rel, const std::function<void(uint64_t id)>& on_removed);

  const CgroupTreeOptions options_;
  const int inotify_fd_;
  absl::flat_hash_map<uint64_t, std::string> paths_;  // id -> path
  // Removed cgroups within their grace: id -> path, the oldest removal the
  // first to go when full. Kept across Rescan(), which cannot see them.
  // Kernfs ids are not reused, so a remembered id names no other cgroup.
  LruCache<uint64_t, std::string> removed_;
  absl::flat_hash_map<std::string, Node> nodes_;   // path -> id and watch
  absl::flat_hash_map<int, std::string> watches_;  // watch -> path
};

}  // namespace vigil
