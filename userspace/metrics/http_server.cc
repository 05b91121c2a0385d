#include "metrics/http_server.h"

#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace vigil::metrics {

namespace {
constexpr size_t kMaxRequestBody = 1024;
}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address, Registry* registry,
                                                              HealthChecks checks) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("metrics address '", address, "' is not host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

  std::unique_ptr<HttpServer> s(new HttpServer());
  s->server_ = std::make_unique<httplib::Server>();
  s->server_->Get("/metrics", [registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  auto probe = [](std::function<bool()> check) {
    return [check = std::move(check)](const httplib::Request&, httplib::Response& res) {
      const bool ok = check == nullptr || check();
      res.status = ok ? 200 : 503;
      res.set_content(ok ? "ok\n" : "not ready\n", "text/plain");
    };
  };
  s->server_->Get("/healthz", probe(std::move(checks.healthy)));
  // Only GETs are served: no request needs a body, and none is buffered.
  s->server_->set_payload_max_length(kMaxRequestBody);
  s->server_->Get("/readyz", probe(std::move(checks.ready)));

  if (port == 0) {
    port = s->server_->bind_to_any_port(host);
  } else if (!s->server_->bind_to_port(host, port)) {
    port = -1;
  }
  if (port <= 0) return absl::UnavailableError(absl::StrCat("cannot listen for metrics on ", address));
  s->address_ =
      host.find(':') == std::string::npos ? absl::StrCat(host, ":", port) : absl::StrCat("[", host, "]:", port);
  HttpServer* self = s.get();
  s->thread_ = std::thread([self] {
    self->server_->listen_after_bind();
    self->listener_done_ = true;
  });
  Logger("metrics")->info("metrics and health on http://{}/metrics", s->address_);
  return s;
}

HttpServer::~HttpServer() {
  if (thread_.joinable()) {
    // cpp-httplib 0.11's stop() does nothing until the listener has set its
    // running flag: a server destroyed right after Start() (a later start-up
    // step failed) would join a listener that never stops.
    while (!server_->is_running() && !listener_done_) std::this_thread::yield();
    server_->stop();
    thread_.join();
  }
}

}  // namespace vigil::metrics
