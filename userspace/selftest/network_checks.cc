// Network family self-test: each check makes this process open loopback
// sockets, waits for the event of its own pid and compares the fields.
// Nothing leaves the host: TCP to 127.0.0.1, DNS (UDP and TCP) to port 53 of
// a random 127/8 address served by the check itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "decode/dns.h"
#include "selftest/check.h"

namespace vigil::selftest {

namespace {

// Owns one socket fd.
class Socket {
 public:
  Socket(int family, int type) : fd_(socket(family, type | SOCK_CLOEXEC, 0)) {}
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

sockaddr_in Loopback(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

const sockaddr* Sa(const sockaddr_in& a) { return reinterpret_cast<const sockaddr*>(&a); }

uint16_t PortOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

absl::Status Errno(const std::string& what) { return absl::InternalError(absl::StrCat(what, ": ", strerror(errno))); }

std::string RandomLoopbackIp() {
  std::random_device rd;
  return absl::StrCat("127.", 1 + rd() % 254, ".", 1 + rd() % 254, ".", 1 + rd() % 254);
}

std::string UniqueName(const char* what) {
  std::random_device rd;
  return absl::StrCat(what, "-", getpid(), "-", rd(), ".selftest.vigil.invalid");
}

bool Mine(const v1::Event& e, v1::EventKind kind) {
  return e.kind() == kind && e.process().pid() == static_cast<uint32_t>(getpid());
}

absl::Status Want(bool ok, const std::string& what, const v1::Event& e) {
  if (ok) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, "; got ", e.ShortDebugString()));
}

absl::Status Missing(const std::string& what) {
  return absl::NotFoundError(absl::StrCat("no ", what, " event within ", absl::FormatDuration(kEventTimeout)));
}

// A bound, listening TCP socket on 127.0.0.1.
absl::Status Listener(Socket& s, uint16_t* port, int backlog = 4) {
  sockaddr_in a = Loopback("127.0.0.1", 0);
  if (s.fd() < 0 || bind(s.fd(), Sa(a), sizeof(a)) != 0 || listen(s.fd(), backlog) != 0) return Errno("listen");
  *port = PortOf(s.fd());
  return absl::OkStatus();
}

// Connect established and both closes, with the 4-tuple and payload bytes.
absl::Status CheckTcpState(EventWaiter& w) {
  Socket listener(AF_INET, SOCK_STREAM);
  uint16_t port;
  if (absl::Status s = Listener(listener, &port); !s.ok()) return s;
  Socket client(AF_INET, SOCK_STREAM);
  sockaddr_in to = Loopback("127.0.0.1", port);
  if (connect(client.fd(), Sa(to), sizeof(to)) != 0) return Errno("connect");
  const uint16_t client_port = PortOf(client.fd());
  Socket server(accept(listener.fd(), nullptr, nullptr));
  if (server.fd() < 0) return Errno("accept");
  if (send(client.fd(), "ping", 4, 0) != 4) return Errno("send");
  char buf[4];
  if (recv(server.fd(), buf, 4, MSG_WAITALL) != 4) return Errno("recv");
  client.Close();
  server.Close();

  auto connect_ev = w.WaitFor(
      [&](const v1::Event& e) {
        return Mine(e, v1::EVENT_KIND_TCP_CONNECT) && e.tcp_connect().local().port() == client_port;
      },
      kEventTimeout);
  if (!connect_ev) return Missing("tcp_connect");
  const v1::TcpConnect& c = connect_ev->tcp_connect();
  if (absl::Status s = Want(c.result() == v1::CONNECT_RESULT_ESTABLISHED && c.remote().port() == port &&
                                c.remote().ip() == "127.0.0.1" && c.local().ip() == "127.0.0.1",
                            "connect: want established 127.0.0.1 -> 127.0.0.1:" + std::to_string(port), *connect_ev);
      !s.ok()) {
    return s;
  }
  auto close_ev = w.WaitFor(
      [&](const v1::Event& e) {
        return Mine(e, v1::EVENT_KIND_TCP_CLOSE) && e.tcp_close().local().port() == client_port;
      },
      kEventTimeout);
  if (!close_ev) return Missing("tcp_close");
  const v1::TcpClose& cl = close_ev->tcp_close();
  return Want(!cl.inbound() && cl.remote().port() == port && cl.bytes_sent() == 4, "close: want outbound, 4 bytes sent",
              *close_ev);
}

// A non-blocking connect reported "in progress" by the connect() exit.
absl::Status CheckConnectInProgress(EventWaiter& w) {
  Socket listener(AF_INET, SOCK_STREAM);
  uint16_t port;
  if (absl::Status s = Listener(listener, &port); !s.ok()) return s;
  Socket client(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
  sockaddr_in to = Loopback("127.0.0.1", port);
  if (connect(client.fd(), Sa(to), sizeof(to)) == 0 || errno != EINPROGRESS) return Errno("non-blocking connect");
  auto ev = w.WaitFor(
      [&](const v1::Event& e) {
        return Mine(e, v1::EVENT_KIND_TCP_CONNECT) && e.tcp_connect().remote().port() == port &&
               e.tcp_connect().result() == v1::CONNECT_RESULT_IN_PROGRESS;
      },
      kEventTimeout);
  return ev ? absl::OkStatus() : Missing("in-progress tcp_connect");
}

// accept4() or accept(): the accept event has the connection's 4-tuple.
absl::Status CheckAccept(EventWaiter& w, bool accept4_call) {
  Socket listener(AF_INET, SOCK_STREAM);
  uint16_t port;
  if (absl::Status s = Listener(listener, &port); !s.ok()) return s;
  Socket client(AF_INET, SOCK_STREAM);
  sockaddr_in to = Loopback("127.0.0.1", port);
  if (connect(client.fd(), Sa(to), sizeof(to)) != 0) return Errno("connect");
  const uint16_t client_port = PortOf(client.fd());
  Socket server(accept4_call ? accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC)
                             : static_cast<int>(syscall(SYS_accept, listener.fd(), nullptr, nullptr)));
  if (server.fd() < 0) return Errno("accept");
  auto ev = w.WaitFor(
      [&](const v1::Event& e) {
        return Mine(e, v1::EVENT_KIND_TCP_ACCEPT) && e.tcp_accept().remote().port() == client_port;
      },
      kEventTimeout);
  if (!ev) return Missing("tcp_accept");
  return Want(ev->tcp_accept().local().port() == port && ev->tcp_accept().local().ip() == "127.0.0.1",
              "accept: want local 127.0.0.1:" + std::to_string(port), *ev);
}

absl::Status CheckListen(EventWaiter& w) {
  Socket listener(AF_INET, SOCK_STREAM);
  uint16_t port;
  if (absl::Status s = Listener(listener, &port, 7); !s.ok()) return s;
  auto ev =
      w.WaitFor([&](const v1::Event& e) { return Mine(e, v1::EVENT_KIND_LISTEN) && e.listen().local().port() == port; },
                kEventTimeout);
  if (!ev) return Missing("listen");
  return Want(ev->listen().backlog() == 7 && ev->listen().error() == 0, "listen: want backlog 7, no error", *ev);
}

// Success (exit probe: the port the kernel chose) or EADDRINUSE (needs the
// entry probe's copy of the requested address).
absl::Status CheckBind(EventWaiter& w, bool fail) {
  Socket first(AF_INET, SOCK_DGRAM);
  sockaddr_in a = Loopback("127.0.0.1", 0);
  if (bind(first.fd(), Sa(a), sizeof(a)) != 0) return Errno("bind");
  const uint16_t port = PortOf(first.fd());
  Socket second(AF_INET, SOCK_DGRAM);
  if (fail) {
    sockaddr_in same = Loopback("127.0.0.1", port);
    if (bind(second.fd(), Sa(same), sizeof(same)) == 0 || errno != EADDRINUSE) return Errno("bind in use");
  }
  const int want_error = fail ? EADDRINUSE : 0;
  auto ev = w.WaitFor(
      [&](const v1::Event& e) {
        return Mine(e, v1::EVENT_KIND_BIND) && e.bind().local().port() == port &&
               e.bind().error() == static_cast<uint32_t>(want_error);
      },
      kEventTimeout);
  if (!ev) return Missing(fail ? "failed bind" : "bind");
  return Want(ev->bind().protocol() == "udp" && ev->bind().local().ip() == "127.0.0.1", "bind: want udp 127.0.0.1",
              *ev);
}

enum class Send { kSendto, kSendmsg, kSendmmsg };

// A query to <random 127/8>:53 with a unique name; nobody needs to answer.
absl::Status CheckDnsSend(EventWaiter& w, Send how) {
  const std::string name = UniqueName("q");
  const std::string ip = RandomLoopbackIp();
  std::vector<uint8_t> q = decode::EncodeDnsQuery(0x5e1f, name, 28);
  Socket s(AF_INET, SOCK_DGRAM);
  sockaddr_in to = Loopback(ip, 53);
  iovec iov{q.data(), q.size()};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = sizeof(to);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  mmsghdr mm{};
  mm.msg_hdr = msg;
  const bool sent = how == Send::kSendto    ? sendto(s.fd(), q.data(), q.size(), 0, Sa(to), sizeof(to)) >= 0
                    : how == Send::kSendmsg ? sendmsg(s.fd(), &msg, 0) >= 0
                                            : sendmmsg(s.fd(), &mm, 1, 0) == 1;
  if (!sent) return Errno("send DNS query");
  auto ev =
      w.WaitFor([&](const v1::Event& e) { return Mine(e, v1::EVENT_KIND_DNS_QUERY) && e.dns_query().name() == name; },
                kEventTimeout);
  if (!ev) return Missing("dns_query");
  return Want(ev->dns_query().type() == 28 && ev->dns_query().server().ip() == ip &&
                  ev->dns_query().server().port() == 53 && ev->dns_query().id() == 0x5e1f,
              "dns_query: want AAAA to " + ip + ":53", *ev);
}

// A DNS server on <random 127/8>:53 that this process runs itself: UDP and
// TCP sockets bound there, answering A queries with 127.0.0.1, TTL 30.
class LoopbackDns {
 public:
  LoopbackDns() : ip_(RandomLoopbackIp()), udp_(AF_INET, SOCK_DGRAM), tcp_(AF_INET, SOCK_STREAM) {}
  absl::Status Start() {
    sockaddr_in at = Loopback(ip_, 53);
    if (bind(udp_.fd(), Sa(at), sizeof(at)) != 0) return Errno("bind udp " + ip_ + ":53");
    if (bind(tcp_.fd(), Sa(at), sizeof(at)) != 0 || listen(tcp_.fd(), 4) != 0) return Errno("listen " + ip_ + ":53");
    return absl::OkStatus();
  }
  const std::string& ip() const { return ip_; }
  sockaddr_in addr() const { return Loopback(ip_, 53); }
  static std::vector<uint8_t> Answer(std::vector<uint8_t> query) {
    const uint8_t answer[4] = {127, 0, 0, 1};
    return decode::EncodeDnsAnswerA(std::move(query), answer, 30);
  }
  // Answers one UDP query, whoever asked.
  absl::Status AnswerUdp() {
    uint8_t buf[512];
    sockaddr_in from{};
    socklen_t from_len = sizeof(from);
    ssize_t n = recvfrom(udp_.fd(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) return Errno("receive DNS query");
    std::vector<uint8_t> reply = Answer({buf, buf + n});
    if (sendto(udp_.fd(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len) < 0) {
      return Errno("send DNS answer");
    }
    return absl::OkStatus();
  }
  int tcp_listener() const { return tcp_.fd(); }

 private:
  std::string ip_;
  Socket udp_;
  Socket tcp_;
};

// Waits for this process's query and response for `name`, and checks them.
absl::Status ExpectQueryAndAnswer(EventWaiter& w, const std::string& name, const std::string& ip,
                                  const std::string& transport) {
  auto q =
      w.WaitFor([&](const v1::Event& e) { return Mine(e, v1::EVENT_KIND_DNS_QUERY) && e.dns_query().name() == name; },
                kEventTimeout);
  if (!q) return Missing(transport + " dns_query");
  if (absl::Status s = Want(q->dns_query().type() == 1 && q->dns_query().server().ip() == ip &&
                                q->dns_query().server().port() == 53 && q->dns_query().transport() == transport,
                            "dns_query: want A to " + ip + ":53 over " + transport, *q);
      !s.ok()) {
    return s;
  }
  auto r = w.WaitFor(
      [&](const v1::Event& e) { return Mine(e, v1::EVENT_KIND_DNS_RESPONSE) && e.dns_response().name() == name; },
      kEventTimeout);
  if (!r) return Missing(transport + " dns_response");
  const v1::DnsResponse& a = r->dns_response();
  return Want(a.addresses_size() == 1 && a.addresses(0) == "127.0.0.1" && a.ttl() == 30 && a.server().ip() == ip &&
                  a.transport() == transport && !a.truncated(),
              "dns_response: want 127.0.0.1, TTL 30 from " + ip + " over " + transport, *r);
}

// glibc's way to receive: recvfrom() on an unconnected socket.
absl::Status CheckDnsReceive(EventWaiter& w) {
  LoopbackDns dns;
  if (absl::Status s = dns.Start(); !s.ok()) return s;
  const std::string name = UniqueName("r");
  Socket client(AF_INET, SOCK_DGRAM);
  sockaddr_in at = dns.addr();
  std::vector<uint8_t> q = decode::EncodeDnsQuery(0x7e57, name, 1);
  if (sendto(client.fd(), q.data(), q.size(), 0, Sa(at), sizeof(at)) < 0) return Errno("send DNS query");
  if (absl::Status s = dns.AnswerUdp(); !s.ok()) return s;
  uint8_t buf[512];
  sockaddr_in from{};
  socklen_t from_len = sizeof(from);
  if (recvfrom(client.fd(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len) <= 0) {
    return Errno("receive DNS answer");
  }
  return ExpectQueryAndAnswer(w, name, dns.ip(), "udp");
}

// Go's resolver and busybox: connect(), then write() and read() on the UDP
// socket, which no send or receive syscall probe sees.
absl::Status CheckDnsConnectedWriteRead(EventWaiter& w) {
  LoopbackDns dns;
  if (absl::Status s = dns.Start(); !s.ok()) return s;
  const std::string name = UniqueName("w");
  Socket client(AF_INET, SOCK_DGRAM);
  sockaddr_in at = dns.addr();
  if (connect(client.fd(), Sa(at), sizeof(at)) != 0) return Errno("connect to " + dns.ip() + ":53");
  std::vector<uint8_t> q = decode::EncodeDnsQuery(0x6010, name, 1);
  if (write(client.fd(), q.data(), q.size()) != static_cast<ssize_t>(q.size())) return Errno("write DNS query");
  if (absl::Status s = dns.AnswerUdp(); !s.ok()) return s;
  uint8_t buf[512];
  if (read(client.fd(), buf, sizeof(buf)) <= 0) return Errno("read DNS answer");
  return ExpectQueryAndAnswer(w, name, dns.ip(), "udp");
}

// DNS over TCP: a 2-byte length before each message; the answer's prefix and
// body are written apart, so they may arrive in two segments.
absl::Status CheckDnsTcp(EventWaiter& w) {
  LoopbackDns dns;
  if (absl::Status s = dns.Start(); !s.ok()) return s;
  const std::string name = UniqueName("t");
  Socket client(AF_INET, SOCK_STREAM);
  sockaddr_in at = dns.addr();
  if (connect(client.fd(), Sa(at), sizeof(at)) != 0) return Errno("connect to " + dns.ip() + ":53 over TCP");
  Socket server(accept(dns.tcp_listener(), nullptr, nullptr));
  if (server.fd() < 0) return Errno("accept");
  const int one = 1;
  setsockopt(server.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::vector<uint8_t> q = decode::EncodeDnsQuery(0x7c90, name, 1);
  std::vector<uint8_t> framed = {static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size())};
  framed.insert(framed.end(), q.begin(), q.end());
  if (write(client.fd(), framed.data(), framed.size()) != static_cast<ssize_t>(framed.size())) {
    return Errno("write DNS query over TCP");
  }
  std::vector<uint8_t> got(framed.size());
  if (recv(server.fd(), got.data(), got.size(), MSG_WAITALL) != static_cast<ssize_t>(got.size())) {
    return Errno("receive DNS query over TCP");
  }
  std::vector<uint8_t> reply = LoopbackDns::Answer({got.begin() + 2, got.end()});
  const uint8_t prefix[2] = {static_cast<uint8_t>(reply.size() >> 8), static_cast<uint8_t>(reply.size())};
  if (write(server.fd(), prefix, 2) != 2 ||
      write(server.fd(), reply.data(), reply.size()) != static_cast<ssize_t>(reply.size())) {
    return Errno("write DNS answer over TCP");
  }
  std::vector<uint8_t> answer(2 + reply.size());
  if (recv(client.fd(), answer.data(), answer.size(), MSG_WAITALL) != static_cast<ssize_t>(answer.size())) {
    return Errno("receive DNS answer over TCP");
  }
  return ExpectQueryAndAnswer(w, name, dns.ip(), "tcp");
}

}  // namespace

std::vector<Check> NetworkChecks() {
  return {
      {"tcp_state", CheckTcpState},
      {"tcp_connect", CheckConnectInProgress},
      {"tcp_accept4", [](EventWaiter& w) { return CheckAccept(w, true); }},
      {"tcp_accept", [](EventWaiter& w) { return CheckAccept(w, false); }},
      {"listen", CheckListen},
      {"bind_enter", [](EventWaiter& w) { return CheckBind(w, true); }},
      {"bind", [](EventWaiter& w) { return CheckBind(w, false); }},
      // What every DNS hook sees, then what only the packet hook does.
      {"dns", [](EventWaiter& w) { return CheckDnsSend(w, Send::kSendto); }},
      {"dns", [](EventWaiter& w) { return CheckDnsSend(w, Send::kSendmsg); }},
      {"dns", [](EventWaiter& w) { return CheckDnsSend(w, Send::kSendmmsg); }},
      {"dns", CheckDnsReceive},
      {"dns", CheckDnsConnectedWriteRead, "cgroup_skb"},
      {"dns", CheckDnsTcp, "cgroup_skb"},
  };
}

}  // namespace vigil::selftest
