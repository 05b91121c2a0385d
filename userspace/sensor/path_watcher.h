#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil {

// Watches files and directories with inotify and calls `on_change`, on its
// own thread, once they have been quiet for `debounce` after a change: an
// editor's save or a ConfigMap update (several renames) triggers one call.
//
// A path may be a file or a directory (then everything below it counts, new
// subdirectories included) and need not exist yet: its parent directory is
// watched for it to appear, be replaced or go. Within directories only
// `extensions` count (".yml"), so editors' swap files do not trigger; a
// mounted ConfigMap's update (its "..data" link swapped) counts everywhere.
class PathWatcher {
 public:
  static absl::StatusOr<std::unique_ptr<PathWatcher>> Start(const std::vector<std::string>& paths,
                                                            std::vector<std::string> extensions,
                                                            absl::Duration debounce, std::function<void()> on_change);
  ~PathWatcher();  // stops the thread; no call runs after it returns
  PathWatcher(const PathWatcher&) = delete;
  PathWatcher& operator=(const PathWatcher&) = delete;

 private:
  struct Watch {
    std::string dir;
    bool whole = false;           // every file below counts (a watched directory)
    std::set<std::string> names;  // else only these entries
  };

  PathWatcher(int inotify_fd, int stop_fd) : inotify_fd_(inotify_fd), stop_fd_(stop_fd) {}
  void Add(const std::string& path);
  void AddTree(const std::string& dir);
  int WatchDir(const std::string& dir);
  // Reads pending events; true when one of them counts.
  bool ReadEvents();
  void Run();

  const int inotify_fd_;
  const int stop_fd_;
  std::vector<std::string> extensions_;
  absl::Duration debounce_;
  std::function<void()> on_change_;
  std::map<int, Watch> watches_;  // by watch descriptor; the thread's after Start
  std::thread thread_;
};

}  // namespace vigil
