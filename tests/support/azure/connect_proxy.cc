#include "connect_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace vigil::testing {
namespace {

int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return;
    done += n;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ConnectProxy>> ConnectProxy::Start() {
  std::unique_ptr<ConnectProxy> p(new ConnectProxy());
  p->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(p->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(p->listen_fd_, 16) != 0 ||
      getsockname(p->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return absl::UnavailableError("proxy cannot listen on 127.0.0.1");
  }
  p->port_ = ntohs(addr.sin_port);
  p->acceptor_ = std::thread([raw = p.get()] { raw->Serve(); });
  return p;
}

ConnectProxy::~ConnectProxy() {
  stop_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  for (auto& w : workers_) w.join();
  close(listen_fd_);
}

void ConnectProxy::Serve() {
  while (!stop_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    workers_.emplace_back([this, client] { Tunnel(client); });
  }
}

void ConnectProxy::Tunnel(int client) {
  std::string head;
  char buf[16384];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 8192) {
    ssize_t n = read(client, buf, sizeof(buf));
    if (n <= 0) return (void)close(client);
    head.append(buf, n);
  }
  // CONNECT 127.0.0.1:<port> HTTP/1.1; anything else is refused.
  std::vector<std::string> words = absl::StrSplit(head.substr(0, head.find("\r\n")), ' ');
  int port = 0;
  if (words.size() != 3 || words[0] != "CONNECT" || !absl::StartsWith(words[1], "127.0.0.1:") ||
      !absl::SimpleAtoi(words[1].substr(10), &port)) {
    WriteAll(client, "HTTP/1.1 403 Forbidden\r\n\r\n");
    return (void)close(client);
  }
  int upstream = ConnectLoopback(port);
  if (upstream < 0) {
    WriteAll(client, "HTTP/1.1 502 Bad Gateway\r\n\r\n");
    return (void)close(client);
  }
  ++tunnels_;
  WriteAll(client, "HTTP/1.1 200 Connection established\r\n\r\n");
  pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
  while (!stop_) {
    if (poll(fds, 2, 100) <= 0) continue;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        closed = true;
        break;
      }
      WriteAll(fds[1 - i].fd, std::string(buf, n));
    }
    if (closed) break;
  }
  close(client);
  close(upstream);
}

}  // namespace vigil::testing
