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
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "container/runtime_clients.h"
#include "container/unix_http.h"
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
      } else if (absl::StartsWith(req, absl::StrCat("GET /containers/chunked/json "))) {
        // As Docker's Go server answers an HTTP/1.1 request: chunked, here
        // in pieces that arrive apart.
        const std::string body = kInspect;
        const size_t half = body.size() / 2;
        std::vector<std::string> pieces = {
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            absl::StrCat(absl::Hex(half), "\r\n", body.substr(0, half)),
            absl::StrCat("\r\n", absl::Hex(body.size() - half), ";ext=1\r\n", body.substr(half), "\r\n"), "0\r\n\r\n"};
        for (const std::string& p : pieces) {
          (void)!send(c, p.data(), p.size(), MSG_NOSIGNAL);
          absl::SleepFor(absl::Milliseconds(20));
        }
      } else if (absl::StartsWith(req, "GET /containers/broken/json ")) {
        resp = "HTTP/1.0 500 Internal Server Error\r\n\r\n{\"message\":\"boom\"}";
      } else {
        resp = "HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n\r\n{\"message\":\"No such container\"}";
      }
      if (!resp.empty()) (void)!send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
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

TEST(DockerClientTest, ReadsAChunkedReplyThatArrivesInPieces) {
  FakeDockerEngine engine;
  auto md = NewDockerClient(engine.path(), absl::Seconds(2))->Lookup("chunked");
  ASSERT_THAT(md, IsOk());
  EXPECT_EQ(md->pod_name, "payments-7d9f");
  EXPECT_EQ(md->image, "registry.example/payments:1.4");
  EXPECT_TRUE(absl::StartsWith(engine.last_request(), "GET /containers/chunked/json HTTP/1.1\r\n"));
  EXPECT_TRUE(absl::StrContains(engine.last_request(), "Connection: close\r\n"));
}

TEST(DockerClientTest, SilentEngineTimesOut) {
  // Listens, never accepts: the connection and the request go into its
  // backlog, and no answer comes.
  char tmpl[] = "/tmp/vigil-docker-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string path = dir + "/docker.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
  ASSERT_EQ(listen(fd, 8), 0);
  const absl::Time start = absl::Now();
  EXPECT_THAT(NewDockerClient(path, absl::Milliseconds(300))->Lookup(kId),
              StatusIs(absl::StatusCode::kUnavailable, "no answer within 300ms"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  close(fd);
  std::filesystem::remove_all(dir);
}

TEST(DockerClientTest, NoEngineIsUnavailable) {
  EXPECT_THAT(NewDockerClient("/tmp/vigil-no-such-docker.sock", absl::Seconds(2))->Lookup(kId),
              StatusIs(absl::StatusCode::kUnavailable, "connect"));
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

using test::StatusIs;

// Every prefix of a reply is incomplete, and only the whole of it parses.
void ExpectWholeOnly(const std::string& raw, const std::string& body) {
  for (size_t i = 0; i < raw.size(); ++i) {
    auto partial = ParseHttpReply(absl::string_view(raw).substr(0, i), 1 << 20, false);
    ASSERT_TRUE(partial.ok()) << i << ": " << partial.status();
    ASSERT_FALSE(partial->has_value()) << "complete after " << i << " of " << raw.size() << " bytes";
  }
  auto whole = ParseHttpReply(raw, 1 << 20, false);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_TRUE(whole->has_value());
  EXPECT_EQ((*whole)->status, 200);
  EXPECT_EQ((*whole)->body, body);
}

TEST(ParseHttpReplyTest, ChunkedAndContentLengthAreCompleteOnlyWhenWhole) {
  ExpectWholeOnly("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nA;x=y\r\n, world!!!\r\n0\r\n\r\n",
                  "hello, world!!!");
  ExpectWholeOnly("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Trailer: 1\r\n\r\n", "hi");
  ExpectWholeOnly("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "hello");
}

TEST(ParseHttpReplyTest, BodyWithoutLengthEndsWithTheConnection) {
  const std::string raw = "HTTP/1.0 200 OK\r\n\r\n{\"a\":1}";
  auto open = ParseHttpReply(raw, 1 << 20, false);
  ASSERT_TRUE(open.ok());
  EXPECT_FALSE(open->has_value());
  auto closed = ParseHttpReply(raw, 1 << 20, true);
  ASSERT_TRUE(closed.ok());
  ASSERT_TRUE(closed->has_value());
  EXPECT_EQ((*closed)->body, "{\"a\":1}");
}

TEST(ParseHttpReplyTest, BodiesOverTheLimitAreRefusedHoweverFramed) {
  EXPECT_THAT(ParseHttpReply("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", 10, false),
              StatusIs(absl::StatusCode::kResourceExhausted, "body over 10 bytes"));
  EXPECT_THAT(ParseHttpReply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n", 10, false),
              StatusIs(absl::StatusCode::kResourceExhausted, "body over 10 bytes"));
  EXPECT_THAT(ParseHttpReply("HTTP/1.0 200 OK\r\n\r\n0123456789A", 10, false),
              StatusIs(absl::StatusCode::kResourceExhausted, "body over 10 bytes"));
  EXPECT_THAT(ParseHttpReply(std::string(70 << 10, 'x'), 10, false),
              StatusIs(absl::StatusCode::kDataLoss, "headers over"));
}

TEST(ParseHttpReplyTest, MalformedRepliesAreErrors) {
  for (const char* raw : {
           "SSH-2.0-OpenSSH\r\n\r\n",                                                     // not HTTP
           "HTTP/1.1 2x0 OK\r\n\r\n",                                                     // status code
           "HTTP/1.1 100 Continue\r\n\r\n",                                               // not asked for
           "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",                                         // header line
           "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",                               // length
           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",         // two lengths
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",                 // coding
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n",       // chunk size
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",  // no CRLF
       }) {
    EXPECT_THAT(ParseHttpReply(raw, 1 << 20, true), StatusIs(absl::StatusCode::kDataLoss, "bad HTTP reply")) << raw;
  }
  // Closed early: each framing says how.
  EXPECT_THAT(ParseHttpReply("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", 1 << 20, true),
              StatusIs(absl::StatusCode::kDataLoss, "connection closed after 3 of 5 bytes"));
  EXPECT_THAT(ParseHttpReply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 1 << 20, true),
              StatusIs(absl::StatusCode::kDataLoss, "inside the chunked body"));
  EXPECT_THAT(ParseHttpReply("HTTP/1.1 200 OK\r\n", 1 << 20, true),
              StatusIs(absl::StatusCode::kDataLoss, "before the end of the headers"));
}

}  // namespace
}  // namespace vigil
