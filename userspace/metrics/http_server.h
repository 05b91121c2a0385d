#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "metrics/registry.h"

namespace httplib {
class Server;
}

namespace vigil::metrics {

// Health callbacks; each must be cheap and thread-safe.
struct HealthChecks {
  std::function<bool()> healthy;  // /healthz: the process works (null: always)
  std::function<bool()> ready;    // /readyz: it does its job now (null: always)
};

// Serves GET /metrics (Prometheus text), /healthz and /readyz (200 "ok" or
// 503 "not ready") over plain HTTP. Used by vigil-sensor (127.0.0.1:9476) and
// vigil-collector (:9477).
class HttpServer {
 public:
  // `address` is "host:port"; port 0 picks a free one (see address()).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address, Registry* registry,
                                                           HealthChecks checks);
  ~HttpServer();

  // "host:port" actually bound.
  const std::string& address() const { return address_; }

 private:
  HttpServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> listener_done_{false};  // listen_after_bind() returned
  std::string address_;
};

}  // namespace vigil::metrics
