// A unix socket server that accepts connections and never answers: a
// container runtime that hangs (a wedged containerd, CRI-O or Docker) for
// the tests that check nothing but that runtime's own containers waits on it.
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace vigil::test {

class HangingSocket {
 public:
  // Listens at `path` (removed first if it exists); ok() tells whether it does.
  explicit HangingSocket(std::string path) : path_(std::move(path)) {
    unlink(path_.c_str());
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (listen_fd_ < 0 || path_.size() >= sizeof(addr.sun_path)) return;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(listen_fd_, 64) != 0) return;
    listening_ = true;
    thread_ = std::thread([this] { Serve(); });
  }
  ~HangingSocket() {
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
    if (thread_.joinable()) thread_.join();
    for (int fd : accepted_fds_) close(fd);
    if (listen_fd_ >= 0) close(listen_fd_);
    close(stop_fd_);
    unlink(path_.c_str());
  }
  HangingSocket(const HangingSocket&) = delete;
  HangingSocket& operator=(const HangingSocket&) = delete;

  bool ok() const { return listening_; }
  const std::string& path() const { return path_; }
  // Connections accepted (and left hanging) so far.
  int accepted() const { return accepted_.load(); }

 private:
  void Serve() {
    for (;;) {
      pollfd fds[2] = {{.fd = listen_fd_, .events = POLLIN, .revents = 0},
                       {.fd = stop_fd_, .events = POLLIN, .revents = 0}};
      if (poll(fds, 2, -1) < 0 || (fds[1].revents & POLLIN)) return;
      // Held open and never read or written: the client waits for an answer.
      if (const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC); fd >= 0) {
        accepted_fds_.push_back(fd);
        accepted_.fetch_add(1);
      }
    }
  }

  const std::string path_;
  int listen_fd_ = -1;
  const int stop_fd_ = eventfd(0, EFD_CLOEXEC);
  bool listening_ = false;
  std::vector<int> accepted_fds_;  // server thread only, then the destructor
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace vigil::test
