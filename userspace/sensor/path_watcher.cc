#include "sensor/path_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "absl/strings/match.h"
#include "common/log.h"
#include "common/status.h"

namespace vigil {

namespace fs = std::filesystem;

namespace {

// Kubernetes updates a mounted ConfigMap by swapping this symlink (its files
// are links through it), so a change shows only as a rename of this name.
constexpr char kConfigMapData[] = "..data";

// Creation, removal, renames in and out, and the end of a write.
constexpr uint32_t kMask =
    IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF;

}  // namespace

absl::StatusOr<std::unique_ptr<PathWatcher>> PathWatcher::Start(const std::vector<std::string>& paths,
                                                                std::vector<std::string> extensions,
                                                                absl::Duration debounce,
                                                                std::function<void()> on_change) {
  const int inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd < 0) return ErrnoStatus(errno, "inotify_init1");
  const int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) {
    const int err = errno;
    close(inotify_fd);
    return ErrnoStatus(err, "eventfd");
  }
  std::unique_ptr<PathWatcher> w(new PathWatcher(inotify_fd, stop_fd));
  w->extensions_ = std::move(extensions);
  w->debounce_ = debounce;
  w->on_change_ = std::move(on_change);
  for (const std::string& p : paths) w->Add(p);
  w->thread_ = std::thread([raw = w.get()] { raw->Run(); });
  return w;
}

PathWatcher::~PathWatcher() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
    thread_.join();
  }
  close(stop_fd_);
  close(inotify_fd_);
}

int PathWatcher::WatchDir(const std::string& dir) {
  const int wd = inotify_add_watch(inotify_fd_, dir.c_str(), kMask);
  if (wd < 0) {
    Logger("sensor")->debug("cannot watch {}: {}", dir, strerror(errno));
    return -1;
  }
  // inotify returns the same descriptor for a directory watched twice.
  watches_[wd].dir = dir;
  return wd;
}

void PathWatcher::Add(const std::string& path) {
  const fs::path p = fs::absolute(path).lexically_normal();
  const fs::path parent = p.has_filename() ? p.parent_path() : p.parent_path().parent_path();
  const std::string name = p.has_filename() ? p.filename().string() : p.parent_path().filename().string();
  if (const int wd = WatchDir(parent.string()); wd >= 0) watches_[wd].names.insert(name);
  std::error_code ec;
  if (fs::is_directory(p, ec)) AddTree(p.string());
}

void PathWatcher::AddTree(const std::string& dir) {
  const int wd = WatchDir(dir);
  if (wd < 0) return;
  watches_[wd].whole = true;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) AddTree(it->path().string());
  }
}

bool PathWatcher::ReadEvents() {
  bool counts = false;
  alignas(inotify_event) char buf[16 * 1024];
  for (;;) {
    const ssize_t n = read(inotify_fd_, buf, sizeof(buf));
    if (n <= 0) return counts;
    for (char* p = buf; p < buf + n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        counts = true;
        continue;
      }
      auto w = watches_.find(ev->wd);
      if (w == watches_.end()) continue;
      if (ev->mask & IN_IGNORED) {
        watches_.erase(w);
        continue;
      }
      if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        counts |= w->second.whole;
        continue;
      }
      const std::string name = ev->len > 0 ? ev->name : "";
      const std::string full = w->second.dir + "/" + name;
      const bool is_dir = (ev->mask & IN_ISDIR) != 0;
      if (name == kConfigMapData) counts = true;
      if (w->second.names.contains(name)) {
        counts = true;
        // A watched directory that appears (or is replaced) is watched whole.
        if (is_dir && (ev->mask & (IN_CREATE | IN_MOVED_TO))) AddTree(full);
      }
      if (w->second.whole) {
        if (is_dir) {
          counts = true;
          if (ev->mask & (IN_CREATE | IN_MOVED_TO)) AddTree(full);
        }
        for (const std::string& ext : extensions_) counts |= absl::EndsWith(name, ext);
      }
    }
  }
}

void PathWatcher::Run() {
  bool pending = false;
  absl::Time due = absl::InfiniteFuture();
  for (;;) {
    pollfd fds[2] = {{.fd = inotify_fd_, .events = POLLIN, .revents = 0},
                     {.fd = stop_fd_, .events = POLLIN, .revents = 0}};
    const int timeout =
        pending ? static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(due - absl::Now()) + 1)) : -1;
    const int n = poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) {
      Logger("sensor")->error("watching the rules stopped: poll: {}", strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents != 0 && ReadEvents()) {
      pending = true;
      due = absl::Now() + debounce_;
    }
    if (pending && absl::Now() >= due) {
      pending = false;
      on_change_();
    }
  }
}

}  // namespace vigil
