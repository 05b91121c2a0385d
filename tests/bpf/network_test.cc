// Network family on the real kernel: TCP connect/accept/close, listen, bind
// and DNS over UDP and TCP, as the vigil-sensor binary writes them. Traffic
// stays on loopback (or in a network namespace of the test's own); every
// event is matched by the pids of this test's own children.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "decode/dns.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "selftest/check.h"
#include "sensor_harness.h"

namespace vigil::testing {
namespace {

using ::testing::ElementsAre;

// ---- Children and sockets ------------------------------------------------

// Forks a child that runs `body` and exits with its result; the child only
// makes syscalls, so fork from this single-threaded test is safe.
pid_t ForkChild(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  if (pid < 0) ADD_FAILURE() << "fork: " << std::strerror(errno);
  return pid;
}

void ExpectExitsZero(pid_t pid, const char* who) {
  const int status = WaitExit(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << who << ": " << SensorProcess::DescribeStatus(status);
}

struct Pipe {
  Pipe() {
    if (pipe2(fds, O_CLOEXEC) != 0) ADD_FAILURE() << "pipe: " << std::strerror(errno);
  }
  ~Pipe() {
    close(fds[0]);
    close(fds[1]);
  }
  bool Put(uint32_t v) const { return write(fds[1], &v, sizeof(v)) == sizeof(v); }
  uint32_t Get() const {
    uint32_t v = 0;
    return read(fds[0], &v, sizeof(v)) == sizeof(v) ? v : 0;
  }
  int fds[2] = {-1, -1};
};

struct Addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
};

Addr MakeAddr(const std::string& ip, uint16_t port) {
  Addr a;
  if (ip.find(':') == std::string::npos) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &in->sin_addr);
    a.len = sizeof(*in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr);
    a.len = sizeof(*in6);
  }
  return a;
}

uint16_t LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

// A random loopback address other than 127.0.0.1, so that a port-53 server of
// this test never meets another test's.
std::string RandomLoopbackIp() {
  std::random_device rd;
  return absl::StrCat("127.", 1 + rd() % 254, ".", 1 + rd() % 254, ".", 1 + rd() % 254);
}

// ---- The suite -----------------------------------------------------------

class NetworkTest : public SharedSensorSuite<NetworkTest> {
 public:  // the hooks are called from the base
  // Every kind in the health report has its name, and the suite's
  // connections (this test's and the machine's) were counted by it.
  static void CheckFinalHealth(const v1::Event& health) {
    for (const v1::KindCounters& k : health.health().kinds()) {
      EXPECT_FALSE(absl::StartsWith(k.kind(), "kind_")) << k.ShortDebugString();
    }
    for (const char* kind : {"tcp_connect", "listen", "bind", "tcp_close"}) {
      EXPECT_GT(KindCountersOf(health, kind).received(), 0u) << kind;
    }
  }

 protected:
  static std::optional<v1::Event> Wait(v1::EventKind kind, pid_t pid,
                                       const std::function<bool(const v1::Event&)>& more = nullptr) {
    return sensor().WaitFor([&](const v1::Event& e) {
      return e.kind() == kind && e.process().pid() == static_cast<uint32_t>(pid) && (!more || more(e));
    });
  }

  // `client` asked `server_ip`:53 for `name` over `transport` and got
  // `addresses` with `rcode`: both events, field by field.
  static void ExpectDnsExchange(pid_t client, const std::string& name, uint32_t type, const std::string& server_ip,
                                const std::string& transport, const std::vector<std::string>& addresses,
                                uint32_t rcode = 0) {
    SCOPED_TRACE(absl::StrCat(name, " type ", type, " over ", transport));
    auto query = Wait(v1::EVENT_KIND_DNS_QUERY, client,
                      [&](const v1::Event& e) { return e.dns_query().name() == name && e.dns_query().type() == type; });
    ASSERT_TRUE(query.has_value()) << "no DNS query event";
    EXPECT_EQ(query->dns_query().server().ip(), server_ip);
    EXPECT_EQ(query->dns_query().server().port(), 53u);
    EXPECT_EQ(query->dns_query().transport(), transport);
    auto response = Wait(v1::EVENT_KIND_DNS_RESPONSE, client, [&](const v1::Event& e) {
      return e.dns_response().name() == name && e.dns_response().type() == type;
    });
    ASSERT_TRUE(response.has_value()) << "no DNS response event";
    const v1::DnsResponse& r = response->dns_response();
    EXPECT_EQ(r.id(), query->dns_query().id());
    EXPECT_EQ(r.rcode(), rcode);
    EXPECT_THAT(r.addresses(), ::testing::ElementsAreArray(addresses));
    EXPECT_EQ(r.server().ip(), server_ip);
    EXPECT_EQ(r.server().port(), 53u);
    EXPECT_EQ(r.transport(), transport);
    EXPECT_FALSE(r.truncated());
    EXPECT_EQ(response->process().pid(), static_cast<uint32_t>(client));
  }
};

struct TcpCase {
  const char* name;
  const char* server_ip;  // bound by the server
  const char* client_ip;  // connected to by the client
  const char* family;     // as events report it
  const char* seen_ip;    // the server's address as the connection's events show it
};

class TcpLoopbackTest : public NetworkTest, public ::testing::WithParamInterface<TcpCase> {};

// Server child: bind, listen, accept one, read 5 bytes, write 7, wait for
// the client's close, close. Client child: connect, write 5, read 7, close.
TEST_P(TcpLoopbackTest, ConnectAcceptCloseWithBothProcesses) {
  const TcpCase& c = GetParam();
  Pipe port_pipe;
  const pid_t server = ForkChild([&] {
    int s = socket(MakeAddr(c.server_ip, 0).ss.ss_family, SOCK_STREAM, 0);
    Addr a = MakeAddr(c.server_ip, 0);
    if (s < 0 || bind(s, a.sa(), a.len) != 0 || listen(s, 8) != 0) return 10;
    port_pipe.Put(LocalPort(s));
    int conn = accept(s, nullptr, nullptr);
    char buf[8];
    if (conn < 0 || recv(conn, buf, 5, MSG_WAITALL) != 5) return 11;
    if (send(conn, "7 bytes", 7, 0) != 7) return 12;
    if (recv(conn, buf, 1, 0) != 0) return 13;
    close(conn);
    close(s);
    return 0;
  });
  const uint16_t port = static_cast<uint16_t>(port_pipe.Get());
  ASSERT_NE(port, 0);
  const pid_t client = ForkChild([&] {
    Addr a = MakeAddr(c.client_ip, port);
    int s = socket(a.ss.ss_family, SOCK_STREAM, 0);
    if (s < 0 || connect(s, a.sa(), a.len) != 0) return 20;
    char buf[8];
    if (send(s, "hello", 5, 0) != 5 || recv(s, buf, 7, MSG_WAITALL) != 7) return 21;
    close(s);
    return 0;
  });
  ExpectExitsZero(client, "client");
  ExpectExitsZero(server, "server");

  auto bind_ev = Wait(v1::EVENT_KIND_BIND, server);
  ASSERT_TRUE(bind_ev.has_value()) << "no bind event of the server";
  EXPECT_EQ(bind_ev->bind().local().ip(), c.server_ip);
  EXPECT_EQ(bind_ev->bind().local().port(), port);  // port 0 resolved
  EXPECT_EQ(bind_ev->bind().protocol(), "tcp");
  EXPECT_EQ(bind_ev->bind().error(), 0u);

  auto listen_ev = Wait(v1::EVENT_KIND_LISTEN, server);
  ASSERT_TRUE(listen_ev.has_value()) << "no listen event of the server";
  EXPECT_EQ(listen_ev->listen().local().ip(), c.server_ip);
  EXPECT_EQ(listen_ev->listen().local().port(), port);
  EXPECT_EQ(listen_ev->listen().backlog(), 8u);
  EXPECT_EQ(listen_ev->listen().error(), 0u);

  auto connect = Wait(v1::EVENT_KIND_TCP_CONNECT, client);
  ASSERT_TRUE(connect.has_value()) << "no connect event of the client";
  const v1::TcpConnect& tc = connect->tcp_connect();
  EXPECT_EQ(tc.result(), v1::CONNECT_RESULT_ESTABLISHED);
  EXPECT_EQ(tc.family(), c.family);
  EXPECT_EQ(tc.remote().ip(), c.seen_ip);
  EXPECT_EQ(tc.remote().port(), port);
  EXPECT_EQ(tc.local().ip(), c.seen_ip);
  const uint32_t client_port = tc.local().port();
  EXPECT_NE(client_port, 0u);

  auto accept_ev = Wait(v1::EVENT_KIND_TCP_ACCEPT, server);
  ASSERT_TRUE(accept_ev.has_value()) << "no accept event of the server";
  const v1::TcpAccept& ta = accept_ev->tcp_accept();
  EXPECT_EQ(ta.family(), c.family);
  EXPECT_EQ(ta.local().ip(), c.seen_ip);
  EXPECT_EQ(ta.local().port(), port);
  EXPECT_EQ(ta.remote().ip(), c.seen_ip);
  EXPECT_EQ(ta.remote().port(), client_port);

  auto client_close = Wait(v1::EVENT_KIND_TCP_CLOSE, client);
  ASSERT_TRUE(client_close.has_value()) << "no close event of the client's connection";
  const v1::TcpClose& cc = client_close->tcp_close();
  EXPECT_FALSE(cc.inbound());
  EXPECT_EQ(cc.local().port(), client_port);
  EXPECT_EQ(cc.remote().port(), port);
  EXPECT_EQ(cc.remote().ip(), c.seen_ip);
  EXPECT_EQ(cc.bytes_sent(), 5u);
  EXPECT_EQ(cc.bytes_received(), 7u);
  EXPECT_GT(cc.duration_ns(), 0u);

  auto server_close = Wait(v1::EVENT_KIND_TCP_CLOSE, server);
  ASSERT_TRUE(server_close.has_value()) << "no close event of the server's connection";
  const v1::TcpClose& sc = server_close->tcp_close();
  EXPECT_TRUE(sc.inbound());
  EXPECT_EQ(sc.local().port(), port);
  EXPECT_EQ(sc.remote().port(), client_port);
  EXPECT_EQ(sc.bytes_sent(), 7u);
  EXPECT_EQ(sc.bytes_received(), 5u);
  EXPECT_GT(sc.duration_ns(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Families, TcpLoopbackTest,
                         ::testing::Values(TcpCase{"ipv4", "127.0.0.1", "127.0.0.1", "ipv4", "127.0.0.1"},
                                           TcpCase{"ipv6", "::1", "::1", "ipv6", "::1"},
                                           TcpCase{"v4mapped", "::", "::ffff:127.0.0.1", "ipv6", "::ffff:127.0.0.1"}),
                         [](const ::testing::TestParamInfo<TcpCase>& info) { return std::string(info.param.name); });

// A port nobody listens on: bound and released by this test just before.
uint16_t ClosedPort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  Addr a = MakeAddr("127.0.0.1", 0);
  bind(s, a.sa(), a.len);
  const uint16_t port = LocalPort(s);
  close(s);
  return port;
}

TEST_F(NetworkTest, ConnectToClosedPortIsRefused) {
  const uint16_t port = ClosedPort();
  const pid_t client = ForkChild([&] {
    Addr a = MakeAddr("127.0.0.1", port);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    return connect(s, a.sa(), a.len) == -1 && errno == ECONNREFUSED ? 0 : 1;
  });
  ExpectExitsZero(client, "client");
  auto ev = Wait(v1::EVENT_KIND_TCP_CONNECT, client);
  ASSERT_TRUE(ev.has_value()) << "no connect event";
  EXPECT_EQ(ev->tcp_connect().result(), v1::CONNECT_RESULT_REFUSED);
  EXPECT_EQ(ev->tcp_connect().error(), static_cast<uint32_t>(ECONNREFUSED));
  EXPECT_EQ(ev->tcp_connect().remote().ip(), "127.0.0.1");
  EXPECT_EQ(ev->tcp_connect().remote().port(), port);
  EXPECT_TRUE(sensor()
                  .FindAll([&](const v1::Event& e) {
                    return e.kind() == v1::EVENT_KIND_TCP_CLOSE && e.process().pid() == static_cast<uint32_t>(client);
                  })
                  .empty())
      << "a refused connect is not a closed connection";
}

// A listener whose accept queue is full drops SYNs: with one SYN retry
// (TCP_SYNCNT) the connect gives up after about 3 s.
TEST_F(NetworkTest, ConnectWithoutAnswerTimesOut) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  Addr a = MakeAddr("127.0.0.1", 0);
  ASSERT_EQ(bind(listener, a.sa(), a.len), 0);
  ASSERT_EQ(listen(listener, 0), 0);  // room for one connection
  const uint16_t port = LocalPort(listener);
  Addr to = MakeAddr("127.0.0.1", port);
  int filler = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(filler, to.sa(), to.len), 0);
  const pid_t client = ForkChild([&] {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_SYNCNT, &one, sizeof(one));
    return connect(s, to.sa(), to.len) == -1 && errno == ETIMEDOUT ? 0 : 1;
  });
  ExpectExitsZero(client, "client");
  close(filler);
  close(listener);
  auto ev = Wait(v1::EVENT_KIND_TCP_CONNECT, client);
  ASSERT_TRUE(ev.has_value()) << "no connect event";
  EXPECT_EQ(ev->tcp_connect().result(), v1::CONNECT_RESULT_TIMED_OUT);
  EXPECT_EQ(ev->tcp_connect().error(), static_cast<uint32_t>(ETIMEDOUT));
  EXPECT_EQ(ev->tcp_connect().remote().port(), port);
}

TEST_F(NetworkTest, NonBlockingConnectIsInProgressThenEstablished) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  Addr a = MakeAddr("127.0.0.1", 0);
  ASSERT_EQ(bind(listener, a.sa(), a.len), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  const uint16_t port = LocalPort(listener);
  const pid_t client = ForkChild([&] {
    Addr to = MakeAddr("127.0.0.1", port);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (connect(s, to.sa(), to.len) != -1 || errno != EINPROGRESS) return 1;
    usleep(100'000);
    close(s);
    return 0;
  });
  ExpectExitsZero(client, "client");
  close(listener);
  auto in_progress = Wait(v1::EVENT_KIND_TCP_CONNECT, client, [](const v1::Event& e) {
    return e.tcp_connect().result() == v1::CONNECT_RESULT_IN_PROGRESS;
  });
  ASSERT_TRUE(in_progress.has_value()) << "no in-progress connect event";
  EXPECT_EQ(in_progress->tcp_connect().remote().port(), port);
  EXPECT_NE(in_progress->tcp_connect().local().port(), 0u);
  auto established = Wait(v1::EVENT_KIND_TCP_CONNECT, client, [](const v1::Event& e) {
    return e.tcp_connect().result() == v1::CONNECT_RESULT_ESTABLISHED;
  });
  ASSERT_TRUE(established.has_value()) << "no established connect event";
  EXPECT_EQ(established->tcp_connect().local().port(), in_progress->tcp_connect().local().port());
}

TEST_F(NetworkTest, BindOfAPortInUseFails) {
  int first = socket(AF_INET, SOCK_DGRAM, 0);
  Addr a = MakeAddr("127.0.0.1", 0);
  ASSERT_EQ(bind(first, a.sa(), a.len), 0);
  const uint16_t port = LocalPort(first);
  const pid_t child = ForkChild([&] {
    Addr same = MakeAddr("127.0.0.1", port);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    return bind(s, same.sa(), same.len) == -1 && errno == EADDRINUSE ? 0 : 1;
  });
  ExpectExitsZero(child, "child");
  close(first);
  auto ev = Wait(v1::EVENT_KIND_BIND, child);
  ASSERT_TRUE(ev.has_value()) << "no bind event";
  EXPECT_EQ(ev->bind().error(), static_cast<uint32_t>(EADDRINUSE));
  EXPECT_EQ(ev->bind().protocol(), "udp");
  EXPECT_EQ(ev->bind().family(), "ipv4");
  EXPECT_EQ(ev->bind().local().ip(), "127.0.0.1");
  EXPECT_EQ(ev->bind().local().port(), port);
}

// ---- DNS whatever the client: a server of the test's own, UDP and TCP ----

// The reply of a small authoritative server: `answer_ip` for A, no records
// for other types, NXDOMAIN for names whose first label starts with "nx-".
// The query's additional records (dig's EDNS) are not echoed.
std::vector<uint8_t> DnsReply(const uint8_t* q, size_t n, const std::string& answer_ip) {
  size_t end = 12;
  while (end < n && q[end] != 0) end += q[end] + 1;
  end += 5;  // root label, QTYPE, QCLASS
  if (n < 12 || end > n) return {};
  std::vector<uint8_t> query(q, q + end);
  query[10] = query[11] = 0;  // ARCOUNT
  const uint16_t type = static_cast<uint16_t>(query[end - 4] << 8 | query[end - 3]);
  const bool nx = query[12] >= 3 && std::memcmp(&query[13], "nx-", 3) == 0;
  if (type == 1 && !nx) {
    uint8_t a[4];
    inet_pton(AF_INET, answer_ip.c_str(), a);
    return decode::EncodeDnsAnswerA(std::move(query), a, 60);
  }
  query[2] = 0x81;              // QR, RD
  query[3] = nx ? 0x83 : 0x80;  // RA, NXDOMAIN or NOERROR
  return query;
}

bool ReadFull(int fd, uint8_t* buf, size_t n) { return recv(fd, buf, n, MSG_WAITALL) == static_cast<ssize_t>(n); }

// Serves DNS on <ip>:53 over UDP and TCP until `stop_fd` reads EOF; returns
// the exit code (0, or where it failed). TCP answers go out as the 2-byte
// length and the message in two writes (TCP_NODELAY), so the sensor meets a
// length alone in its segment.
int ServeDns(const std::string& ip, const std::string& answer_ip, int stop_fd, const Pipe& ready) {
  const Addr at = MakeAddr(ip, 53);
  const int u = socket(at.ss.ss_family, SOCK_DGRAM, 0);
  const int t = socket(at.ss.ss_family, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (u < 0 || t < 0 || bind(u, at.sa(), at.len) != 0 || bind(t, at.sa(), at.len) != 0 || listen(t, 8) != 0) {
    ready.Put(0);
    return 80;
  }
  ready.Put(1);
  std::vector<pollfd> fds = {{stop_fd, POLLIN, 0}, {u, POLLIN, 0}, {t, POLLIN, 0}};
  for (;;) {
    if (poll(fds.data(), fds.size(), 30000) <= 0) return 81;  // the test should have ended it by now
    if (fds[0].revents) return 0;
    if (fds[1].revents) {
      uint8_t buf[1500];
      sockaddr_storage from{};
      socklen_t from_len = sizeof(from);
      const ssize_t n = recvfrom(u, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      std::vector<uint8_t> reply = DnsReply(buf, n > 0 ? n : 0, answer_ip);
      if (!reply.empty()) sendto(u, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
    }
    if (fds[2].revents) {
      const int c = accept(t, nullptr, nullptr);
      if (c >= 0) {
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fds.push_back({c, POLLIN, 0});
      }
    }
    for (size_t i = 3; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      uint8_t len[2], buf[1500];
      size_t n = 0;
      std::vector<uint8_t> reply;
      if (ReadFull(fds[i].fd, len, 2) && (n = static_cast<size_t>(len[0] << 8 | len[1])) <= sizeof(buf) &&
          ReadFull(fds[i].fd, buf, n)) {
        reply = DnsReply(buf, n, answer_ip);
      }
      const uint8_t prefix[2] = {static_cast<uint8_t>(reply.size() >> 8), static_cast<uint8_t>(reply.size())};
      if (reply.empty() || write(fds[i].fd, prefix, 2) != 2 ||
          write(fds[i].fd, reply.data(), reply.size()) != static_cast<ssize_t>(reply.size())) {
        close(fds[i].fd);
        fds.erase(fds.begin() + static_cast<long>(i--));
      }
    }
  }
}

// ServeDns in a child of this test, stopped and reaped when it goes.
class DnsServerProcess {
 public:
  DnsServerProcess(const std::string& ip, const std::string& answer_ip) : ip_(ip) {
    if (pipe2(stop_, O_CLOEXEC) != 0) ADD_FAILURE() << "pipe: " << std::strerror(errno);
    Pipe ready;
    pid_ = ForkChild([&] {
      close(stop_[1]);
      return ServeDns(ip, answer_ip, stop_[0], ready);
    });
    close(stop_[0]);
    ready_ = ready.Get() == 1;
    if (!ready_) ADD_FAILURE() << "DNS server on " << ip << ":53 did not start";
  }
  ~DnsServerProcess() {
    close(stop_[1]);
    ExpectExitsZero(pid_, "dns server");
  }
  bool ready() const { return ready_; }
  const std::string& ip() const { return ip_; }

 private:
  std::string ip_;
  int stop_[2] = {-1, -1};
  pid_t pid_ = -1;
  bool ready_ = false;
};

// One DNS question and its answer on a connected socket: `send` writes the
// query (whole, as the wire needs it), `receive` reads an answer into buf.
using SendFn = std::function<bool(int fd, const std::vector<uint8_t>& query)>;
using ReceiveFn = std::function<ssize_t(int fd, uint8_t* buf, size_t size)>;

bool Exchange(int fd, const std::vector<uint8_t>& query, const SendFn& send_fn, const ReceiveFn& receive_fn) {
  uint8_t buf[1500];
  return send_fn(fd, query) && receive_fn(fd, buf, sizeof(buf)) > 12;
}

TEST_F(NetworkTest, DnsQueryAndAnswerNameTheNextConnect) {
  const std::string dns_ip = RandomLoopbackIp();
  const std::string target_ip = RandomLoopbackIp();
  const std::string name = absl::StrCat("svc-", Nonce(), ".vigil.test");
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  Addr la = MakeAddr(target_ip, 0);
  ASSERT_EQ(bind(listener, la.sa(), la.len), 0) << std::strerror(errno);
  ASSERT_EQ(listen(listener, 4), 0);
  const uint16_t port = LocalPort(listener);
  DnsServerProcess dns(dns_ip, target_ip);
  ASSERT_TRUE(dns.ready());

  // Resolves like a stub resolver (sendto + recvfrom), then connects to the answer.
  const pid_t client = ForkChild([&] {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    Addr dns = MakeAddr(dns_ip, 53);
    auto q = decode::EncodeDnsQuery(0x1234, name, 1);
    if (sendto(u, q.data(), q.size(), 0, dns.sa(), dns.len) != static_cast<ssize_t>(q.size())) return 40;
    uint8_t buf[512];
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    ssize_t n = recvfrom(u, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 16) return 41;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, buf + n - 4, ip, sizeof(ip));
    Addr to = MakeAddr(ip, port);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(t, to.sa(), to.len) != 0) return 42;
    close(t);
    return 0;
  });
  ExpectExitsZero(client, "client");
  close(listener);

  auto query = Wait(v1::EVENT_KIND_DNS_QUERY, client);
  ASSERT_TRUE(query.has_value()) << "no DNS query event";
  EXPECT_EQ(query->dns_query().name(), name);
  EXPECT_EQ(query->dns_query().type(), 1u);
  EXPECT_EQ(query->dns_query().type_name(), "A");
  EXPECT_EQ(query->dns_query().id(), 0x1234u);
  EXPECT_EQ(query->dns_query().server().ip(), dns_ip);
  EXPECT_EQ(query->dns_query().server().port(), 53u);

  auto response = Wait(v1::EVENT_KIND_DNS_RESPONSE, client);
  ASSERT_TRUE(response.has_value()) << "no DNS response event";
  EXPECT_EQ(response->dns_response().name(), name);
  EXPECT_THAT(response->dns_response().addresses(), ElementsAre(target_ip));
  EXPECT_EQ(response->dns_response().ttl(), 60u);
  EXPECT_EQ(response->dns_response().server().ip(), dns_ip);

  auto connect = Wait(v1::EVENT_KIND_TCP_CONNECT, client);
  ASSERT_TRUE(connect.has_value()) << "no connect event";
  EXPECT_EQ(connect->tcp_connect().remote().ip(), target_ip);
  EXPECT_EQ(connect->tcp_connect().remote_name(), name);
}

// glibc's own resolver, end to end: getaddrinfo() in a child whose private
// mount namespace has a resolv.conf naming this test's server (nothing else
// is ever asked), then a connect to the answer, which carries the name.
TEST_F(NetworkTest, GetaddrinfoThenConnectCarriesTheName) {
  const std::string dns_ip = RandomLoopbackIp();
  const std::string target_ip = RandomLoopbackIp();
  const std::string name = absl::StrCat("gai-", Nonce(), ".vigil.test");
  char dir_templ[] = "/tmp/vigil-net-XXXXXX";
  ASSERT_NE(mkdtemp(dir_templ), nullptr);
  const std::string resolv = std::string(dir_templ) + "/resolv.conf";
  const std::string resolv_text = absl::StrCat("nameserver ", dns_ip, "\noptions attempts:1 timeout:2\n");
  {
    std::ofstream out(resolv);
    out << resolv_text;
  }
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  Addr la = MakeAddr(target_ip, 0);
  ASSERT_EQ(bind(listener, la.sa(), la.len), 0) << std::strerror(errno);
  ASSERT_EQ(listen(listener, 4), 0);
  const uint16_t port = LocalPort(listener);

  // Answers A with target_ip and anything else (AAAA) with no records.
  DnsServerProcess dns(dns_ip, target_ip);
  ASSERT_TRUE(dns.ready());

  const pid_t client = ForkChild([&] {
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount(resolv.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0) {
      return 70;
    }
    std::ifstream in("/etc/resolv.conf");
    std::string seen((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (seen != resolv_text) return 71;  // never ask the host's real resolver
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(name.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || res == nullptr) return 72;
    int t = socket(res->ai_family, SOCK_STREAM, 0);
    const int rc = connect(t, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    close(t);
    return rc == 0 ? 0 : 73;
  });
  ExpectExitsZero(client, "client");
  close(listener);
  std::filesystem::remove_all(dir_templ);

  for (uint32_t type : {1u, 28u}) {
    auto query = Wait(v1::EVENT_KIND_DNS_QUERY, client,
                      [&](const v1::Event& e) { return e.dns_query().name() == name && e.dns_query().type() == type; });
    ASSERT_TRUE(query.has_value()) << "no DNS query event of type " << type;
    EXPECT_EQ(query->dns_query().server().ip(), dns_ip);
  }
  auto response = Wait(v1::EVENT_KIND_DNS_RESPONSE, client,
                       [&](const v1::Event& e) { return e.dns_response().addresses_size() > 0; });
  ASSERT_TRUE(response.has_value()) << "no DNS response event with an address";
  EXPECT_THAT(response->dns_response().addresses(), ElementsAre(target_ip));
  auto connect = Wait(v1::EVENT_KIND_TCP_CONNECT, client);
  ASSERT_TRUE(connect.has_value()) << "no connect event";
  EXPECT_EQ(connect->tcp_connect().remote().ip(), target_ip);
  EXPECT_EQ(connect->tcp_connect().remote_name(), name);
}

// glibc's resolver sends on a connected UDP socket: send() for one question,
// sendmmsg() for A and AAAA together; other resolvers use sendmsg().
TEST_F(NetworkTest, DnsQueriesOverSendSendmsgAndSendmmsg) {
  const std::string dns_ip = RandomLoopbackIp();
  const std::string tag = Nonce();
  const std::string n_send = absl::StrCat("send-", tag, ".vigil.test");
  const std::string n_msg = absl::StrCat("msg-", tag, ".vigil.test");
  const std::string n_mm4 = absl::StrCat("mm4-", tag, ".vigil.test");
  const std::string n_mm6 = absl::StrCat("mm6-", tag, ".vigil.test");
  // Something listens there, so no ICMP port-unreachable fails a later send.
  int server = socket(AF_INET, SOCK_DGRAM, 0);
  Addr dns = MakeAddr(dns_ip, 53);
  ASSERT_EQ(bind(server, dns.sa(), dns.len), 0) << std::strerror(errno);
  const pid_t client = ForkChild([&] {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    if (connect(u, dns.sa(), dns.len) != 0) return 50;
    auto q1 = decode::EncodeDnsQuery(1, n_send, 1);
    if (send(u, q1.data(), q1.size(), 0) < 0) return 51;
    auto q2 = decode::EncodeDnsQuery(2, n_msg, 16);
    iovec iov2{q2.data(), q2.size()};
    msghdr m{};
    m.msg_iov = &iov2;
    m.msg_iovlen = 1;
    if (sendmsg(u, &m, 0) < 0) return 52;
    auto q3 = decode::EncodeDnsQuery(3, n_mm4, 1);
    auto q4 = decode::EncodeDnsQuery(4, n_mm6, 28);
    iovec iov3{q3.data(), q3.size()}, iov4{q4.data(), q4.size()};
    mmsghdr mm[2] = {};
    mm[0].msg_hdr.msg_iov = &iov3;
    mm[0].msg_hdr.msg_iovlen = 1;
    mm[1].msg_hdr.msg_iov = &iov4;
    mm[1].msg_hdr.msg_iovlen = 1;
    return sendmmsg(u, mm, 2, 0) == 2 ? 0 : 53;
  });
  ExpectExitsZero(client, "client");
  close(server);
  for (auto [name, type, type_name] : {std::tuple{n_send, 1u, "A"}, std::tuple{n_msg, 16u, "TXT"},
                                       std::tuple{n_mm4, 1u, "A"}, std::tuple{n_mm6, 28u, "AAAA"}}) {
    // A named copy: clang before 16 cannot capture a structured binding.
    const std::string wanted = name;
    auto ev =
        Wait(v1::EVENT_KIND_DNS_QUERY, client, [&](const v1::Event& e) { return e.dns_query().name() == wanted; });
    ASSERT_TRUE(ev.has_value()) << "no DNS query event for " << name;
    EXPECT_EQ(ev->dns_query().type(), type) << name;
    EXPECT_EQ(ev->dns_query().type_name(), type_name) << name;
    EXPECT_EQ(ev->dns_query().server().ip(), dns_ip) << name;
    EXPECT_EQ(ev->dns_query().server().port(), 53u) << name;
  }
}

// Go's resolver and busybox: connect() the UDP socket, then write() and
// read(), which no send or receive syscall probe sees.
TEST_F(NetworkTest, DnsOverConnectedUdpWithWriteAndRead) {
  const std::string target_ip = RandomLoopbackIp();
  DnsServerProcess dns(RandomLoopbackIp(), target_ip);
  ASSERT_TRUE(dns.ready());
  const std::string name = absl::StrCat("go-", Nonce(), ".vigil.test");
  const std::string nx = absl::StrCat("nx-", Nonce(), ".vigil.test");
  const pid_t client = ForkChild([&] {
    Addr at = MakeAddr(dns.ip(), 53);
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (connect(u, at.sa(), at.len) != 0) return 90;
    auto w = [](int fd, const std::vector<uint8_t>& q) {
      return write(fd, q.data(), q.size()) == static_cast<ssize_t>(q.size());
    };
    auto r = [](int fd, uint8_t* buf, size_t size) { return read(fd, buf, size); };
    if (!Exchange(u, decode::EncodeDnsQuery(0x4701, name, 1), w, r)) return 91;
    if (!Exchange(u, decode::EncodeDnsQuery(0x4702, name, 28), w, r)) return 92;
    return Exchange(u, decode::EncodeDnsQuery(0x4703, nx, 1), w, r) ? 0 : 93;
  });
  ExpectExitsZero(client, "client");
  ExpectDnsExchange(client, name, 1, dns.ip(), "udp", {target_ip});
  ExpectDnsExchange(client, name, 28, dns.ip(), "udp", {});
  ExpectDnsExchange(client, nx, 1, dns.ip(), "udp", {}, 3);
  auto query = Wait(v1::EVENT_KIND_DNS_QUERY, client, [&](const v1::Event& e) { return e.dns_query().name() == name; });
  ASSERT_TRUE(query.has_value());
  EXPECT_EQ(query->dns_query().id(), 0x4701u);
  EXPECT_EQ(query->dns_query().type_name(), "A");
  EXPECT_EQ(query->process().tid(), static_cast<uint32_t>(client));
}

// Answers read with recv(), recvmsg() and recvmmsg() (dig and many
// resolvers), queries sent with send(), sendmsg() and sendmmsg().
TEST_F(NetworkTest, DnsAnswersOverRecvRecvmsgAndRecvmmsg) {
  const std::string target_ip = RandomLoopbackIp();
  DnsServerProcess dns(RandomLoopbackIp(), target_ip);
  ASSERT_TRUE(dns.ready());
  const std::string tag = Nonce();
  const std::string n_recv = absl::StrCat("recv-", tag, ".vigil.test");
  const std::string n_msg = absl::StrCat("recvmsg-", tag, ".vigil.test");
  const std::string n_mm1 = absl::StrCat("mm1-", tag, ".vigil.test");
  const std::string n_mm2 = absl::StrCat("mm2-", tag, ".vigil.test");
  const pid_t client = ForkChild([&] {
    Addr at = MakeAddr(dns.ip(), 53);
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (connect(u, at.sa(), at.len) != 0) return 100;
    auto s = [](int fd, const std::vector<uint8_t>& q) {
      return send(fd, q.data(), q.size(), 0) == static_cast<ssize_t>(q.size());
    };
    auto r = [](int fd, uint8_t* buf, size_t size) { return recv(fd, buf, size, 0); };
    if (!Exchange(u, decode::EncodeDnsQuery(1, n_recv, 1), s, r)) return 101;
    auto sm = [](int fd, const std::vector<uint8_t>& q) {
      iovec iov{const_cast<uint8_t*>(q.data()), q.size()};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      return sendmsg(fd, &m, 0) == static_cast<ssize_t>(q.size());
    };
    auto rm = [](int fd, uint8_t* buf, size_t size) {
      iovec iov{buf, size};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      return recvmsg(fd, &m, 0);
    };
    if (!Exchange(u, decode::EncodeDnsQuery(2, n_msg, 1), sm, rm)) return 102;
    auto q1 = decode::EncodeDnsQuery(3, n_mm1, 1);
    auto q2 = decode::EncodeDnsQuery(4, n_mm2, 1);
    iovec out[2] = {{q1.data(), q1.size()}, {q2.data(), q2.size()}};
    uint8_t b1[512], b2[512];
    iovec in[2] = {{b1, sizeof(b1)}, {b2, sizeof(b2)}};
    mmsghdr mo[2] = {}, mi[2] = {};
    for (int i = 0; i < 2; ++i) {
      mo[i].msg_hdr.msg_iov = &out[i];
      mo[i].msg_hdr.msg_iovlen = 1;
      mi[i].msg_hdr.msg_iov = &in[i];
      mi[i].msg_hdr.msg_iovlen = 1;
    }
    if (sendmmsg(u, mo, 2, 0) != 2) return 103;
    int got = 0;
    while (got < 2) {
      const int n = recvmmsg(u, mi + got, 2 - got, 0, nullptr);
      if (n <= 0) return 104;
      got += n;
    }
    return 0;
  });
  ExpectExitsZero(client, "client");
  for (const std::string& name : {n_recv, n_msg, n_mm1, n_mm2}) {
    ExpectDnsExchange(client, name, 1, dns.ip(), "udp", {target_ip});
  }
}

// DNS over TCP (RFC 7766): two queries in one write, then one whose length
// and message are written apart; the server writes each answer's length and
// message apart too.
TEST_F(NetworkTest, DnsOverTcpQueriesAndAnswers) {
  const std::string target_ip = RandomLoopbackIp();
  DnsServerProcess dns(RandomLoopbackIp(), target_ip);
  ASSERT_TRUE(dns.ready());
  const std::string tag = Nonce();
  const std::string n1 = absl::StrCat("tcp1-", tag, ".vigil.test");
  const std::string n2 = absl::StrCat("tcp2-", tag, ".vigil.test");
  const std::string n3 = absl::StrCat("nx-tcp3-", tag, ".vigil.test");
  auto framed = [](const std::vector<uint8_t>& q) {
    std::vector<uint8_t> f = {static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size())};
    f.insert(f.end(), q.begin(), q.end());
    return f;
  };
  const pid_t client = ForkChild([&] {
    Addr at = MakeAddr(dns.ip(), 53);
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(t, at.sa(), at.len) != 0) return 110;
    std::vector<uint8_t> two = framed(decode::EncodeDnsQuery(0x7001, n1, 1));
    std::vector<uint8_t> second = framed(decode::EncodeDnsQuery(0x7002, n2, 1));
    two.insert(two.end(), second.begin(), second.end());
    if (write(t, two.data(), two.size()) != static_cast<ssize_t>(two.size())) return 111;
    uint8_t buf[1500];
    for (int i = 0; i < 2; ++i) {
      if (!ReadFull(t, buf, 2) || !ReadFull(t, buf + 2, static_cast<size_t>(buf[0] << 8 | buf[1]))) return 112;
    }
    std::vector<uint8_t> third = framed(decode::EncodeDnsQuery(0x7003, n3, 1));
    if (write(t, third.data(), 2) != 2) return 113;
    usleep(20000);  // its own segment
    if (write(t, third.data() + 2, third.size() - 2) != static_cast<ssize_t>(third.size() - 2)) return 114;
    if (!ReadFull(t, buf, 2) || !ReadFull(t, buf + 2, static_cast<size_t>(buf[0] << 8 | buf[1]))) return 115;
    close(t);
    return 0;
  });
  ExpectExitsZero(client, "client");
  ExpectDnsExchange(client, n1, 1, dns.ip(), "tcp", {target_ip});
  ExpectDnsExchange(client, n2, 1, dns.ip(), "tcp", {target_ip});
  ExpectDnsExchange(client, n3, 1, dns.ip(), "tcp", {}, 3);
  // Each message once: the sensor followed the stream and read no byte twice.
  absl::SleepFor(absl::Milliseconds(300));
  int queries = 0, responses = 0;
  for (const v1::Event& e : sensor().Events()) {
    if (e.process().pid() != static_cast<uint32_t>(client)) continue;
    queries += e.kind() == v1::EVENT_KIND_DNS_QUERY;
    responses += e.kind() == v1::EVENT_KIND_DNS_RESPONSE;
  }
  EXPECT_EQ(queries, 3);
  EXPECT_EQ(responses, 3);
}

// IPv6, in a network namespace of the test's own (::1 is shared by every
// test on the machine otherwise): UDP and TCP.
TEST_F(NetworkTest, DnsOverIpv6UdpAndTcp) {
  const std::string tag = Nonce();
  const std::string nu = absl::StrCat("v6u-", tag, ".vigil.test");
  const std::string nt = absl::StrCat("v6t-", tag, ".vigil.test");
  const pid_t client = ForkChild([&] {
    if (unshare(CLONE_NEWNET) != 0) return 120;
    const int s = socket(AF_INET, SOCK_DGRAM, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return 121;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) return 122;
    close(s);
    DnsServerProcess dns("::1", "127.0.0.7");
    if (!dns.ready()) return 123;
    Addr at = MakeAddr("::1", 53);
    int u = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (connect(u, at.sa(), at.len) != 0) return 124;
    auto w = [](int fd, const std::vector<uint8_t>& q) {
      return write(fd, q.data(), q.size()) == static_cast<ssize_t>(q.size());
    };
    auto r = [](int fd, uint8_t* buf, size_t size) { return read(fd, buf, size); };
    if (!Exchange(u, decode::EncodeDnsQuery(0x6601, nu, 1), w, r)) return 125;
    int t = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(t, at.sa(), at.len) != 0) return 126;
    std::vector<uint8_t> q = decode::EncodeDnsQuery(0x6602, nt, 1);
    std::vector<uint8_t> f = {static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size())};
    f.insert(f.end(), q.begin(), q.end());
    uint8_t buf[1500];
    if (write(t, f.data(), f.size()) != static_cast<ssize_t>(f.size()) || !ReadFull(t, buf, 2) ||
        !ReadFull(t, buf + 2, static_cast<size_t>(buf[0] << 8 | buf[1]))) {
      return 127;
    }
    close(t);
    return 0;
  });
  ExpectExitsZero(client, "client");
  ExpectDnsExchange(client, nu, 1, "::1", "udp", {"127.0.0.7"});
  ExpectDnsExchange(client, nt, 1, "::1", "tcp", {"127.0.0.7"});
}

// Real clients: busybox nslookup (connect + write/read over UDP), and dig
// over UDP and with +tcp, against the test's server only (@address).
TEST_F(NetworkTest, DnsOfBusyboxNslookupAndDig) {
  const std::string target_ip = RandomLoopbackIp();
  DnsServerProcess dns(RandomLoopbackIp(), target_ip);
  ASSERT_TRUE(dns.ready());
  const std::string tag = Nonce();
  const std::string n_bb = absl::StrCat("busybox-", tag, ".vigil.test");
  const pid_t bb = Spawn("/bin/busybox", {"busybox", "nslookup", n_bb, dns.ip()});
  const int bb_status = WaitExit(bb);
  EXPECT_TRUE(WIFEXITED(bb_status) && WEXITSTATUS(bb_status) == 0) << SensorProcess::DescribeStatus(bb_status);
  ExpectDnsExchange(bb, n_bb, 1, dns.ip(), "udp", {target_ip});
  ExpectDnsExchange(bb, n_bb, 28, dns.ip(), "udp", {});

  if (access("/usr/bin/dig", X_OK) != 0) {
    if (InCi()) FAIL() << "CI=true but dig is missing (bind9-dnsutils, scripts/install-deps.sh)";
    GTEST_SKIP() << "dig not installed (bind9-dnsutils)";
  }
  for (const char* transport : {"udp", "tcp"}) {
    const std::string name = absl::StrCat("dig-", transport, "-", tag, ".vigil.test");
    std::vector<std::string> argv = {"/usr/bin/dig", "+time=3", "+tries=1", "@" + dns.ip(), name, "A"};
    if (std::string(transport) == "tcp") argv.insert(argv.begin() + 1, "+tcp");
    const pid_t dig = Spawn(argv);
    const int status = WaitExit(dig);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << SensorProcess::DescribeStatus(status);
    ExpectDnsExchange(dig, name, 1, dns.ip(), transport, {target_ip});
  }
}

TEST_F(NetworkTest, UdpToOtherPortsIsNotDns) {
  int sink = socket(AF_INET, SOCK_DGRAM, 0);
  Addr a = MakeAddr("127.0.0.1", 0);
  ASSERT_EQ(bind(sink, a.sa(), a.len), 0);
  const uint16_t port = LocalPort(sink);
  const std::string name = absl::StrCat("notdns-", Nonce(), ".vigil.test");
  const pid_t client = ForkChild([&] {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    Addr to = MakeAddr("127.0.0.1", port);
    auto q = decode::EncodeDnsQuery(9, name, 1);
    return sendto(u, q.data(), q.size(), 0, to.sa(), to.len) > 0 ? 0 : 1;
  });
  ExpectExitsZero(client, "client");
  close(sink);
  EXPECT_FALSE(sensor()
                   .WaitFor(
                       [&](const v1::Event& e) {
                         return e.kind() == v1::EVENT_KIND_DNS_QUERY &&
                                e.process().pid() == static_cast<uint32_t>(client);
                       },
                       absl::Seconds(1))
                   .has_value());
}

// The self-test's checks (`vigil-sensor --self-test`) pass against this
// sensor, each with only the events that came after it started.
class SinceStart : public selftest::EventWaiter {
 public:
  explicit SinceStart(SensorProcess& sensor) : sensor_(sensor), start_(sensor.Events().size()) {}
  std::optional<v1::Event> WaitFor(const std::function<bool(const v1::Event&)>& match,
                                   absl::Duration timeout) override {
    const absl::Time deadline = absl::Now() + timeout;
    for (size_t next = start_;;) {
      const std::vector<v1::Event>& events = sensor_.Events();
      for (; next < events.size(); ++next) {
        if (match(events[next])) return events[next];
      }
      if (absl::Now() >= deadline) return std::nullopt;
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

 private:
  SensorProcess& sensor_;
  size_t start_;
};

TEST_F(NetworkTest, SelfTestChecksPass) {
  for (const selftest::Check& check : selftest::NetworkChecks()) {
    SinceStart waiter(sensor());
    const absl::Status status = check.run(waiter);
    EXPECT_TRUE(status.ok()) << check.probe << ": " << status;
  }
}

}  // namespace
}  // namespace vigil::testing
