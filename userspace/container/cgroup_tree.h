#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cgroup2.h"

namespace vigil {

// The cgroup v2 hierarchy's directories by cgroup id (the kernfs id that
// bpf_get_current_cgroup_id() and name_to_handle_at() give), kept current with
// inotify: a container's cgroup is known from its mkdir, before its first exec.
// Not thread-safe: one thread owns it.
class CgroupTree {
 public:
  // `root` is where cgroup2 is mounted; empty: found in /proc/self/mountinfo
  // (/sys/fs/cgroup on cgroup v2 nodes, /sys/fs/cgroup/unified on hybrid ones).
  static absl::StatusOr<std::unique_ptr<CgroupTree>> Open(std::string root);
  ~CgroupTree();
  CgroupTree(const CgroupTree&) = delete;
  CgroupTree& operator=(const CgroupTree&) = delete;

  // Walks the whole tree again (inotify queue overflow, an id not seen).
  void Rescan();
  // Readable when inotify has news; then call ReadEvents().
  int fd() const { return inotify_fd_; }
  // Takes what inotify has without waiting; `on_removed` gets the ids of
  // removed cgroups.
  void ReadEvents(const std::function<void(uint64_t id)>& on_removed);

  // Path below the root ("/kubepods/..."), "/" for the root itself.
  std::optional<std::string> PathOf(uint64_t id) const;
  size_t size() const { return paths_.size(); }
  const std::string& root() const { return root_; }

 private:
  CgroupTree(std::string root, int inotify_fd) : root_(std::move(root)), inotify_fd_(inotify_fd) {}
  struct Node {
    uint64_t id;
    int wd;  // -1 when it could not be watched
  };
  // Adds `rel` and everything below it.
  void AddTree(const std::string& rel);
  void Add(const std::string& rel);
  void Remove(const std::string& rel, const std::function<void(uint64_t id)>& on_removed);

  const std::string root_;
  const int inotify_fd_;
  absl::flat_hash_map<uint64_t, std::string> paths_;  // id -> path
  absl::flat_hash_map<std::string, Node> nodes_;      // path -> id and watch
  absl::flat_hash_map<int, std::string> watches_;     // watch -> path
};

}  // namespace vigil
