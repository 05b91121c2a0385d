// Network family on the real kernel: TCP connect/accept/close, listen, bind
// and DNS over UDP, as the vigil-sensor binary writes them. Traffic stays on
// loopback; every event is matched by the pids of this test's own children.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
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

// A DNS server child on <random 127/8 address>:53 answering every A query
// with `answer_ip`, until it has answered `count`.
pid_t DnsServer(const std::string& ip, const std::string& answer_ip, int count, const Pipe& ready) {
  uint8_t answer[4];
  inet_pton(AF_INET, answer_ip.c_str(), answer);
  return ForkChild([=, &ready] {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    Addr a = MakeAddr(ip, 53);
    if (s < 0 || bind(s, a.sa(), a.len) != 0) return 30;
    ready.Put(1);
    for (int i = 0; i < count; ++i) {
      uint8_t buf[512];
      sockaddr_storage from{};
      socklen_t from_len = sizeof(from);
      ssize_t n = recvfrom(s, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 12) return 31;
      auto reply = decode::EncodeDnsAnswerA(std::vector<uint8_t>(buf, buf + n), answer, 60);
      if (sendto(s, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len) < 0) return 32;
    }
    return 0;
  });
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
  Pipe ready;
  const pid_t server = DnsServer(dns_ip, target_ip, 1, ready);
  ASSERT_EQ(ready.Get(), 1u) << "DNS server did not start";

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
  ExpectExitsZero(server, "dns server");
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
  Pipe ready;
  uint8_t answer[4];
  inet_pton(AF_INET, target_ip.c_str(), answer);
  const pid_t server = ForkChild([&] {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    Addr a = MakeAddr(dns_ip, 53);
    timeval tv{5, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (s < 0 || bind(s, a.sa(), a.len) != 0) return 60;
    ready.Put(1);
    for (int answered = 0; answered < 2; ++answered) {
      uint8_t buf[512];
      sockaddr_storage from{};
      socklen_t from_len = sizeof(from);
      ssize_t n = recvfrom(s, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 16) return 61;
      std::vector<uint8_t> query(buf, buf + n);
      const uint16_t type = static_cast<uint16_t>(query[n - 4] << 8 | query[n - 3]);
      std::vector<uint8_t> reply = decode::EncodeDnsAnswerA(query, answer, 60);
      if (type != 1) {
        reply = query;
        reply[2] |= 0x80;
        reply[3] = 0x80;
      }
      if (sendto(s, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len) < 0) return 62;
    }
    return 0;
  });
  ASSERT_EQ(ready.Get(), 1u) << "DNS server did not start";

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
  ExpectExitsZero(server, "dns server");
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
    auto ev = Wait(v1::EVENT_KIND_DNS_QUERY, client, [&](const v1::Event& e) { return e.dns_query().name() == name; });
    ASSERT_TRUE(ev.has_value()) << "no DNS query event for " << name;
    EXPECT_EQ(ev->dns_query().type(), type) << name;
    EXPECT_EQ(ev->dns_query().type_name(), type_name) << name;
    EXPECT_EQ(ev->dns_query().server().ip(), dns_ip) << name;
    EXPECT_EQ(ev->dns_query().server().port(), 53u) << name;
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
