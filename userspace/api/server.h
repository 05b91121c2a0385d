#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "api/subscribers.h"
#include "vigil/v1/sensor_api.grpc.pb.h"

namespace grpc {
class Server;
}

namespace vigil {

struct ApiServerOptions {
  std::string socket_path = "/run/vigil/sensor.sock";
  size_t default_queue_capacity = 4096;  // events buffered per subscriber
  size_t max_queue_capacity = 1 << 20;
  size_t queue_bytes = 16 << 20;  // encoded event bytes buffered per subscriber
};

// The sensor's local API (vigil.v1.SensorApi) on a unix socket, mode 0600:
// only root talks to it.
class ApiServer {
 public:
  using StatusFn = std::function<v1::StatusResponse()>;
  // The loaded detection rules; FailedPrecondition when detection is off.
  using RulesFn = std::function<absl::StatusOr<v1::ListRulesResponse>()>;

  // Creates the socket's directory, replaces a stale socket file (refuses
  // one another process still answers on) and starts serving. Without
  // `rules`, ListRules answers that detection is off.
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(const ApiServerOptions& options, SubscriberHub* hub,
                                                          StatusFn status, RulesFn rules = nullptr);
  ~ApiServer();

 private:
  class Service;
  ApiServer() = default;

  std::string socket_path_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

// "unix:///run/vigil/sensor.sock" or "/run/vigil/sensor.sock" -> the path.
std::string UnixSocketPath(const std::string& address);

}  // namespace vigil
