// The Docker Engine client's HTTP/1.x response and container JSON: the input
// is the whole response a server on a unix socket sends (status line, headers,
// body), served by a thread here to the real client.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "container/runtime_clients.h"
#include "fuzz_support.h"

namespace {

// Answers every connection with the response last set, then closes it.
class Server {
 public:
  explicit Server(const std::string& path) : path_(path) {
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (listen_fd_ < 0 || path.size() >= sizeof(addr.sun_path)) std::abort();
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(listen_fd_, 4) != 0) {
      std::abort();
    }
    std::thread([this] { Serve(); }).detach();  // lives as long as the fuzzing process
  }
  void Set(std::string response) {
    absl::MutexLock lock(&mu_);
    response_ = std::move(response);
  }

 private:
  void Serve() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      std::string response;
      {
        absl::MutexLock lock(&mu_);
        response = response_;
      }
      for (size_t off = 0; off < response.size();) {
        ssize_t n = send(fd, response.data() + off, response.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      close(fd);
    }
  }

  const std::string path_;
  int listen_fd_ = -1;
  absl::Mutex mu_;
  std::string response_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vigil::fuzz::ScratchDir dir;
  static Server* server = new Server(dir.path() + "/docker.sock");
  static const std::unique_ptr<vigil::RuntimeClient> client =
      vigil::NewDockerClient(dir.path() + "/docker.sock", absl::Seconds(10));
  server->Set(std::string(reinterpret_cast<const char*>(data), size));
  (void)client->Lookup("4f1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9");
  return 0;
}
