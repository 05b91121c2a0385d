// The Docker Engine client against a unix socket server started here: no
// Docker engine runs on the test machines, so the responses are hand-made
// in the shape of GET /containers/{id}/json of Engine API v1.41.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "container/runtime_clients.h"
#include "status_matchers.h"

namespace vigil {
namespace {

using test::IsOk;
using test::StatusIs;

constexpr char kId[] = "4f1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

constexpr char kInspect[] = R"({
  "Id": "4f1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
  "Name": "/k8s_api_payments-7d9f_prod_0c5e7a1e_0",
  "Image": "sha256:5b0c6f2e4d3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c",
  "State": {"Status": "running", "Pid": 4711},
  "Config": {
    "Image": "registry.example/payments:1.4",
    "Labels": {
      "io.kubernetes.container.name": "api",
      "io.kubernetes.pod.name": "payments-7d9f",
      "io.kubernetes.pod.namespace": "prod",
      "io.kubernetes.pod.uid": "0c5e7a1e-3b2d-4c8e-9f10-2a3b4c5d6e7f"
    }
  }
})";

// Serves one canned response per connection, chosen by the request path.
class FakeDockerEngine {
 public:
  FakeDockerEngine() {
    char tmpl[] = "/tmp/vigil-docker-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/docker.sock";
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
    EXPECT_EQ(listen(fd_, 8), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeDockerEngine() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  std::string last_request() const { return last_request_; }

 private:
  void Serve() {
    for (;;) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      while (!absl::StrContains(req, "\r\n\r\n")) {
        ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) break;
        req.append(buf, n);
      }
      last_request_ = req;
      std::string resp;
      if (absl::StartsWith(req, absl::StrCat("GET /containers/", kId, "/json "))) {
        resp = absl::StrCat("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n\r\n", kInspect);
      } else if (absl::StartsWith(req, "GET /containers/broken/json ")) {
        resp = "HTTP/1.0 500 Internal Server Error\r\n\r\n{\"message\":\"boom\"}";
      } else {
        resp = "HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n\r\n{\"message\":\"No such container\"}";
      }
      (void)!write(c, resp.data(), resp.size());
      close(c);
    }
  }

  std::string dir_, path_;
  int fd_ = -1;
  std::thread thread_;
  std::string last_request_;
};

TEST(DockerClientTest, ReadsPodLabelsImageAndDigest) {
  FakeDockerEngine engine;
  auto client = NewDockerClient(engine.path(), absl::Seconds(2));
  auto md = client->Lookup(kId);
  ASSERT_THAT(md, IsOk());
  EXPECT_EQ(md->name, "api");
  EXPECT_EQ(md->image, "registry.example/payments:1.4");
  EXPECT_EQ(md->image_digest, "sha256:5b0c6f2e4d3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c");
  EXPECT_EQ(md->pod_name, "payments-7d9f");
  EXPECT_EQ(md->pod_namespace, "prod");
  EXPECT_EQ(md->pod_uid, "0c5e7a1e-3b2d-4c8e-9f10-2a3b4c5d6e7f");
  EXPECT_TRUE(absl::StrContains(engine.last_request(), "Host: docker\r\n"));
}

TEST(DockerClientTest, UnknownContainerIsNotFound) {
  FakeDockerEngine engine;
  EXPECT_THAT(NewDockerClient(engine.path(), absl::Seconds(2))->Lookup("nope"),
              StatusIs(absl::StatusCode::kNotFound, "docker has no /containers/nope/json"));
}

TEST(DockerClientTest, ServerErrorIsReported) {
  FakeDockerEngine engine;
  EXPECT_THAT(NewDockerClient(engine.path(), absl::Seconds(2))->Lookup("broken"),
              StatusIs(absl::StatusCode::kUnknown, "HTTP 500"));
}

TEST(DockerClientTest, NoEngineIsUnavailable) {
  EXPECT_THAT(NewDockerClient("/tmp/vigil-no-such-docker.sock", absl::Seconds(2))->Lookup(kId),
              StatusIs(absl::StatusCode::kUnavailable, "connect"));
}

}  // namespace
}  // namespace vigil
