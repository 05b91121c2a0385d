#include "container/cgroup_tree.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"

namespace vigil {

namespace {

namespace fs = std::filesystem;

// The cgroup id of a cgroup directory: the 8-byte kernfs file handle.
std::optional<uint64_t> CgroupId(const std::string& dir) {
  struct {
    file_handle fh;
    uint64_t id;
  } h{};
  h.fh.handle_bytes = sizeof(uint64_t);
  int mount_id = 0;
  if (name_to_handle_at(AT_FDCWD, dir.c_str(), &h.fh, &mount_id, 0) != 0) {
    // Container runtimes' default seccomp profiles (RuntimeDefault) refuse
    // name_to_handle_at. On cgroup2 with 64-bit inode numbers (Linux 5.5+,
    // below the sensor's 5.8 floor) the directory's inode number is the same
    // kernfs id, so a sensor pod keeps its seccomp filter.
    struct stat st {};
    if ((errno != EPERM && errno != ENOSYS) || stat(dir.c_str(), &st) != 0) return std::nullopt;
    return static_cast<uint64_t>(st.st_ino);
  }
  if (h.fh.handle_bytes != sizeof(uint64_t)) return std::nullopt;
  uint64_t id;
  std::memcpy(&id, h.fh.f_handle, sizeof(id));
  return id;
}

// A removed cgroup shows only as IN_DELETE on its parent's watch: kernfs
// sends no IN_DELETE_SELF or IN_IGNORED for the removed directory itself.
constexpr uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_ONLYDIR | IN_DONT_FOLLOW;

}  // namespace

absl::StatusOr<std::unique_ptr<CgroupTree>> CgroupTree::Open(CgroupTreeOptions options) {
  if (options.root.empty()) {
    auto mount = FindCgroup2Mount();
    if (!mount.ok()) return mount.status();
    options.root = *std::move(mount);
  }
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "inotify_init1");
  std::unique_ptr<CgroupTree> tree(new CgroupTree(std::move(options), fd));
  if (!CgroupId(tree->root())) {
    return absl::FailedPreconditionError(absl::StrCat("no cgroup id for ", tree->root()));
  }
  tree->Rescan();
  return tree;
}

CgroupTree::~CgroupTree() { close(inotify_fd_); }

void CgroupTree::Rescan() {
  for (const auto& [wd, path] : watches_) inotify_rm_watch(inotify_fd_, wd);
  watches_.clear();
  nodes_.clear();
  paths_.clear();
  AddTree("/");
}

void CgroupTree::Add(const std::string& rel) {
  const std::string abs = rel == "/" ? root() : root() + rel;
  // Watch first, then read the id and the children: a cgroup made in between
  // is then seen by one or the other.
  int wd = inotify_add_watch(inotify_fd_, abs.c_str(), kWatchMask);
  std::optional<uint64_t> id = CgroupId(abs);
  if (!id) {
    if (wd >= 0) inotify_rm_watch(inotify_fd_, wd);
    return;
  }
  paths_[*id] = rel;
  nodes_[rel] = Node{.id = *id, .wd = wd};
  if (wd >= 0) watches_[wd] = rel;
}

void CgroupTree::Remove(const std::string& rel, const std::function<void(uint64_t id)>& on_removed) {
  auto n = nodes_.find(rel);
  if (n == nodes_.end()) return;
  const Node node = n->second;
  nodes_.erase(n);
  if (node.wd >= 0) {
    // The watch pins the removed directory's kernfs node; it goes now.
    inotify_rm_watch(inotify_fd_, node.wd);
    watches_.erase(node.wd);
  }
  if (auto p = paths_.find(node.id); p != paths_.end() && p->second == rel) {
    *removed_.FindOrInsert(node.id).first = std::move(p->second);
    removed_.ExpireAt(node.id, options_.now() + options_.removed_grace);
    paths_.erase(p);
    on_removed(node.id);
  }
}

void CgroupTree::AddTree(const std::string& rel) {
  Add(rel);
  std::error_code ec;
  const std::string abs = rel == "/" ? root() : root() + rel;
  for (fs::directory_iterator it(abs, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      AddTree(rel == "/" ? "/" + it->path().filename().string() : rel + "/" + it->path().filename().string());
    }
  }
}

void CgroupTree::ReadEvents(const std::function<void(uint64_t id)>& on_removed) {
  removed_.ExpireDue();
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    ssize_t n = read(inotify_fd_, buf, sizeof(buf));
    if (n <= 0) return;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        Logger("container")->warn("inotify queue overflowed: rescanning {}", root());
        Rescan();
        continue;
      }
      auto w = watches_.find(ev->wd);
      if (w == watches_.end()) continue;
      if (ev->mask & IN_IGNORED) {  // the kernel dropped the watch (unmount)
        watches_.erase(w);
        continue;
      }
      if (!(ev->mask & IN_ISDIR) || ev->len == 0) continue;
      const std::string child = (w->second == "/" ? "/" : w->second + "/") + ev->name;
      if (ev->mask & IN_CREATE) {
        AddTree(child);
      } else if (ev->mask & IN_DELETE) {
        Remove(child, on_removed);
      }
    }
  }
}

std::optional<CgroupTree::Found> CgroupTree::Find(uint64_t id) const {
  if (auto it = paths_.find(id); it != paths_.end()) return Found{.path = it->second, .removed = false};
  if (const std::string* path = removed_.Peek(id)) return Found{.path = *path, .removed = true};
  return std::nullopt;
}

}  // namespace vigil
