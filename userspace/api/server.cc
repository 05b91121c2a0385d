#include "api/server.h"

#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/status.h"

namespace vigil {

namespace {

// True when something accepts connections on the unix socket at `path`.
bool SocketAnswers(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

absl::Status PrepareSocketPath(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("API socket path too long (", path.size(), " bytes): ", path));
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    if (std::filesystem::create_directories(parent, ec)) {
      chmod(parent.c_str(), 0700);
    } else if (ec) {
      return absl::FailedPreconditionError(absl::StrCat("create ", parent.string(), ": ", ec.message()));
    }
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? absl::OkStatus() : ErrnoStatus(errno, absl::StrCat("stat ", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a socket; not replacing it"));
  }
  if (SocketAnswers(path)) {
    return absl::AlreadyExistsError(absl::StrCat("another process serves the API on ", path));
  }
  // Left behind by a sensor that died without cleaning up.
  if (unlink(path.c_str()) != 0) return ErrnoStatus(errno, absl::StrCat("remove stale socket ", path));
  Logger("api")->info("replaced stale socket {}", path);
  return absl::OkStatus();
}

}  // namespace

std::string UnixSocketPath(const std::string& address) {
  absl::string_view a = address;
  if (absl::ConsumePrefix(&a, "unix://")) return std::string(a);
  if (absl::ConsumePrefix(&a, "unix:")) return std::string(a);
  return address;
}

class ApiServer::Service final : public v1::SensorApi::Service {
 public:
  Service(const ApiServerOptions& options, SubscriberHub* hub, StatusFn status, RulesFn rules)
      : options_(options), hub_(hub), status_(std::move(status)), rules_(std::move(rules)) {}

  void Stop() { stopping_ = true; }

  grpc::Status Tail(grpc::ServerContext* ctx, const v1::TailRequest* request,
                    grpc::ServerWriter<v1::TailResponse>* writer) override {
    auto filter = EventFilter::Create(request->filter());
    if (!filter.ok()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(filter.status().message()));
    const size_t capacity = request->queue_capacity() == 0
                                ? options_.default_queue_capacity
                                : std::min<size_t>(request->queue_capacity(), options_.max_queue_capacity);
    auto subscription =
        hub_->Subscribe(*std::move(filter), QueueLimits{.events = capacity, .bytes = options_.queue_bytes});
    absl::Cleanup unsubscribe = [&] { hub_->Unsubscribe(subscription); };
    Logger("api")->debug("tail subscriber {} joined: {}", ctx->peer(), subscription->Status().filter());

    // An empty first message: the subscription is live, events from now on
    // reach this client.
    v1::TailResponse response;
    if (!writer->Write(response)) return grpc::Status::OK;
    uint64_t reported = 0;
    while (!ctx->IsCancelled() && !stopping_.load(std::memory_order_relaxed)) {
      uint64_t dropped = 0;
      std::vector<Subscription::EventPtr> events = subscription->Take(absl::Milliseconds(200), dropped);
      for (const Subscription::EventPtr& e : events) {
        response.set_dropped(dropped);
        *response.mutable_event() = *e;
        // Blocks only this subscriber's thread when its client stops reading;
        // meanwhile its queue fills and further events are counted as its drops.
        if (!writer->Write(response)) return grpc::Status::OK;
      }
      if (events.empty() && dropped != reported) {
        response.Clear();
        response.set_dropped(dropped);
        if (!writer->Write(response)) return grpc::Status::OK;
      }
      reported = dropped;
    }
    return grpc::Status::OK;
  }

  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*, v1::StatusResponse* response) override {
    *response = status_();
    for (v1::SubscriberStatus& s : hub_->Status()) *response->add_subscribers() = std::move(s);
    return grpc::Status::OK;
  }

  grpc::Status ListRules(grpc::ServerContext*, const v1::ListRulesRequest*, v1::ListRulesResponse* response) override {
    if (rules_ == nullptr) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "detection is off on this sensor (--detection)");
    }
    absl::StatusOr<v1::ListRulesResponse> rules = rules_();
    if (!rules.ok()) {
      return grpc::Status(static_cast<grpc::StatusCode>(rules.status().code()), std::string(rules.status().message()));
    }
    *response = *std::move(rules);
    return grpc::Status::OK;
  }

 private:
  const ApiServerOptions options_;
  SubscriberHub* const hub_;
  const StatusFn status_;
  const RulesFn rules_;
  std::atomic<bool> stopping_{false};
};

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(const ApiServerOptions& options, SubscriberHub* hub,
                                                            StatusFn status, RulesFn rules) {
  const std::string path = UnixSocketPath(options.socket_path);
  if (absl::Status s = PrepareSocketPath(path); !s.ok()) return s;
  std::unique_ptr<ApiServer> api(new ApiServer());
  api->socket_path_ = path;
  api->service_ = std::make_unique<Service>(options, hub, std::move(status), std::move(rules));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", path), grpc::InsecureServerCredentials());
  builder.RegisterService(api->service_.get());
  // The socket is born 0600: no window in which another user could connect.
  const mode_t old_umask = umask(0177);
  api->server_ = builder.BuildAndStart();
  umask(old_umask);
  if (api->server_ == nullptr) return absl::UnavailableError(absl::StrCat("cannot serve the API on unix:", path));
  if (chmod(path.c_str(), 0600) != 0) return ErrnoStatus(errno, absl::StrCat("chmod 0600 ", path));
  Logger("api")->info("local API on unix://{}", path);
  return api;
}

ApiServer::~ApiServer() {
  if (server_ == nullptr) return;
  service_->Stop();
  // Tails blocked on a client that stopped reading are cancelled after this.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  unlink(socket_path_.c_str());
}

}  // namespace vigil
