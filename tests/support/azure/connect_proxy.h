#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::testing {

// An HTTP CONNECT proxy on 127.0.0.1 (ephemeral port) that tunnels only to
// 127.0.0.1, so a test can check that requests went through a proxy.
class ConnectProxy {
 public:
  static absl::StatusOr<std::unique_ptr<ConnectProxy>> Start();
  ~ConnectProxy();
  int port() const { return port_; }
  int tunnels() const { return tunnels_.load(); }

 private:
  ConnectProxy() = default;
  void Serve();
  void Tunnel(int client);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> tunnels_{0};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

}  // namespace vigil::testing
