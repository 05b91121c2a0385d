// The network family's records through the decoder: every field, and
// records that are truncated, oversized or hold garbage.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "decode/decoder.h"
#include "records.h"
#include "status_matchers.h"
#include "vigil_abi.h"

namespace vigil {
namespace {

using test::Bytes;
using test::FillHeader;
using test::IsOk;
using test::Record;
using test::StatusIs;
using test::TestProc;
using ::testing::ElementsAre;

vigil_sock_tuple Tuple4(const char* local, uint16_t lport, const char* remote, uint16_t rport, uint16_t proto = 6) {
  vigil_sock_tuple t{};
  inet_pton(AF_INET, local, t.local_addr);
  inet_pton(AF_INET, remote, t.remote_addr);
  t.local_port = lport;
  t.remote_port = rport;
  t.family = AF_INET;
  t.protocol = proto;
  return t;
}

vigil_sock_tuple Tuple6(const char* local, uint16_t lport, const char* remote, uint16_t rport) {
  vigil_sock_tuple t{};
  inet_pton(AF_INET6, local, t.local_addr);
  inet_pton(AF_INET6, remote, t.remote_addr);
  t.local_port = lport;
  t.remote_port = rport;
  t.family = AF_INET6;
  t.protocol = 6;
  return t;
}

template <typename T>
Record Rec(T e, uint16_t kind) {
  FillHeader(e.hdr, kind, sizeof(e), TestProc());
  return Bytes(e);
}

// A query for "a.example" type A, as a resolver sends it.
std::vector<uint8_t> QueryBytes() {
  return {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1};
}

std::vector<uint8_t> AnswerBytes() {
  std::vector<uint8_t> b = QueryBytes();
  b[2] = 0x81;
  b[3] = 0x80;
  b[7] = 1;
  b.insert(b.end(), {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 42, 0, 4, 10, 1, 2, 3});
  return b;
}

Record DnsRecord(uint16_t kind, const std::vector<uint8_t>& payload, uint32_t total = 0, uint16_t proto = 17) {
  vigil_dns e{};
  e.tuple = Tuple4("10.0.0.5", 40000, "10.0.0.53", 53, proto);
  e.payload_len = static_cast<uint32_t>(payload.size());
  e.payload_total = total ? total : e.payload_len;
  FillHeader(e.hdr, kind, static_cast<uint32_t>(sizeof(e) + payload.size()), TestProc());
  Record r(sizeof(e) + payload.size());
  std::memcpy(r.data(), &e, sizeof(e));
  std::copy(payload.begin(), payload.end(), r.begin() + sizeof(e));
  return r;
}

class NetworkDecoderTest : public ::testing::Test {
 protected:
  absl::Status Decode(const Record& r, v1::Event& e) {
    return Decoder({.node = test::kNode}, &clock_).Decode(absl::MakeConstSpan(r), e);
  }
  v1::Event Decoded(const Record& r) {
    v1::Event e;
    EXPECT_THAT(Decode(r, e), IsOk());
    return e;
  }
  BootClock clock_;
};

TEST_F(NetworkDecoderTest, ConnectV4) {
  vigil_tcp_connect c{};
  c.tuple = Tuple4("127.0.0.1", 51000, "127.0.0.2", 8080);
  c.result = VIGIL_CONNECT_REFUSED;
  c.error = 111;
  v1::Event e = Decoded(Rec(c, VIGIL_KIND_TCP_CONNECT));
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_TCP_CONNECT);
  EXPECT_EQ(e.process().pid(), 4242u);
  const v1::TcpConnect& t = e.tcp_connect();
  EXPECT_EQ(t.family(), "ipv4");
  EXPECT_EQ(t.local().ip(), "127.0.0.1");
  EXPECT_EQ(t.local().port(), 51000u);
  EXPECT_EQ(t.remote().ip(), "127.0.0.2");
  EXPECT_EQ(t.remote().port(), 8080u);
  EXPECT_EQ(t.result(), v1::CONNECT_RESULT_REFUSED);
  EXPECT_EQ(t.error(), 111u);
}

TEST_F(NetworkDecoderTest, AcceptV6AndV4Mapped) {
  vigil_tcp_accept a{};
  a.tuple = Tuple6("::1", 443, "::ffff:127.0.0.1", 50000);
  v1::Event e = Decoded(Rec(a, VIGIL_KIND_TCP_ACCEPT));
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_TCP_ACCEPT);
  EXPECT_EQ(e.tcp_accept().family(), "ipv6");
  EXPECT_EQ(e.tcp_accept().local().ip(), "::1");
  EXPECT_EQ(e.tcp_accept().remote().ip(), "::ffff:127.0.0.1");
  EXPECT_EQ(e.tcp_accept().remote().port(), 50000u);
}

TEST_F(NetworkDecoderTest, ListenBindClose) {
  vigil_listen l{};
  l.tuple = Tuple4("0.0.0.0", 8080, "0.0.0.0", 0);
  l.backlog = 128;
  v1::Event le = Decoded(Rec(l, VIGIL_KIND_LISTEN));
  EXPECT_EQ(le.kind(), v1::EVENT_KIND_LISTEN);
  EXPECT_EQ(le.listen().local().ip(), "0.0.0.0");
  EXPECT_EQ(le.listen().local().port(), 8080u);
  EXPECT_EQ(le.listen().backlog(), 128u);

  vigil_bind b{};
  b.tuple = Tuple4("127.0.0.1", 53, "0.0.0.0", 0, 17);
  b.error = 98;
  v1::Event be = Decoded(Rec(b, VIGIL_KIND_BIND));
  EXPECT_EQ(be.kind(), v1::EVENT_KIND_BIND);
  EXPECT_EQ(be.bind().protocol(), "udp");
  EXPECT_EQ(be.bind().error(), 98u);
  EXPECT_EQ(be.bind().local().port(), 53u);

  vigil_tcp_close c{};
  c.tuple = Tuple4("127.0.0.1", 8080, "127.0.0.1", 50000);
  c.duration_ns = 123456;
  c.bytes_sent = 7;
  c.bytes_received = 5;
  c.flags = VIGIL_CLOSE_INBOUND;
  v1::Event ce = Decoded(Rec(c, VIGIL_KIND_TCP_CLOSE));
  EXPECT_EQ(ce.kind(), v1::EVENT_KIND_TCP_CLOSE);
  EXPECT_TRUE(ce.tcp_close().inbound());
  EXPECT_EQ(ce.tcp_close().duration_ns(), 123456u);
  EXPECT_EQ(ce.tcp_close().bytes_sent(), 7u);
  EXPECT_EQ(ce.tcp_close().bytes_received(), 5u);
}

TEST_F(NetworkDecoderTest, DnsQueryAndResponse) {
  v1::Event q = Decoded(DnsRecord(VIGIL_KIND_DNS_QUERY, QueryBytes()));
  EXPECT_EQ(q.kind(), v1::EVENT_KIND_DNS_QUERY);
  EXPECT_EQ(q.dns_query().name(), "a.example");
  EXPECT_EQ(q.dns_query().type(), 1u);
  EXPECT_EQ(q.dns_query().type_name(), "A");
  EXPECT_EQ(q.dns_query().id(), 0x1234u);
  EXPECT_EQ(q.dns_query().server().ip(), "10.0.0.53");
  EXPECT_EQ(q.dns_query().server().port(), 53u);

  v1::Event r = Decoded(DnsRecord(VIGIL_KIND_DNS_RESPONSE, AnswerBytes()));
  EXPECT_EQ(r.kind(), v1::EVENT_KIND_DNS_RESPONSE);
  EXPECT_EQ(r.dns_response().name(), "a.example");
  EXPECT_THAT(r.dns_response().addresses(), ElementsAre("10.1.2.3"));
  EXPECT_EQ(r.dns_response().ttl(), 42u);
  EXPECT_FALSE(r.dns_response().truncated());
  EXPECT_EQ(q.dns_query().transport(), "udp");
  EXPECT_EQ(r.dns_response().transport(), "udp");
}

TEST_F(NetworkDecoderTest, DnsOverTcpSaysSo) {
  v1::Event q = Decoded(DnsRecord(VIGIL_KIND_DNS_QUERY, QueryBytes(), 0, 6));
  EXPECT_EQ(q.dns_query().name(), "a.example");
  EXPECT_EQ(q.dns_query().transport(), "tcp");
  // A response longer than the segment it started in: cut, still decoded.
  v1::Event r = Decoded(DnsRecord(VIGIL_KIND_DNS_RESPONSE, AnswerBytes(), 3000, 6));
  EXPECT_EQ(r.dns_response().transport(), "tcp");
  EXPECT_TRUE(r.dns_response().truncated());
  EXPECT_THAT(r.dns_response().addresses(), ElementsAre("10.1.2.3"));
}

TEST_F(NetworkDecoderTest, DnsOverOtherProtocolsIsRejected) {
  v1::Event e;
  EXPECT_THAT(Decode(DnsRecord(VIGIL_KIND_DNS_QUERY, QueryBytes(), 0, 132), e),
              StatusIs(absl::StatusCode::kInvalidArgument, "dns record of protocol 132"));
}

TEST_F(NetworkDecoderTest, DnsCutByTheProbeIsFlagged) {
  v1::Event r = Decoded(DnsRecord(VIGIL_KIND_DNS_RESPONSE, AnswerBytes(), 2000));
  EXPECT_TRUE(r.dns_response().truncated());
  EXPECT_THAT(r.dns_response().addresses(), ElementsAre("10.1.2.3"));
}

TEST_F(NetworkDecoderTest, DnsDirectionMustMatch) {
  v1::Event e;
  EXPECT_THAT(Decode(DnsRecord(VIGIL_KIND_DNS_QUERY, AnswerBytes()), e),
              StatusIs(absl::StatusCode::kInvalidArgument, "response sent to port 53"));
  EXPECT_THAT(Decode(DnsRecord(VIGIL_KIND_DNS_RESPONSE, QueryBytes()), e),
              StatusIs(absl::StatusCode::kInvalidArgument, "query received"));
}

TEST_F(NetworkDecoderTest, MalformedDnsPayloadIsRejected) {
  std::vector<uint8_t> loop = QueryBytes();
  loop[12] = 0xc0;  // the name is a pointer to itself
  loop[13] = 12;
  v1::Event e;
  EXPECT_THAT(Decode(DnsRecord(VIGIL_KIND_DNS_QUERY, loop), e),
              StatusIs(absl::StatusCode::kInvalidArgument, "does not point backwards"));
}

TEST_F(NetworkDecoderTest, DnsLengthsMustMatchTheRecord) {
  Record r = DnsRecord(VIGIL_KIND_DNS_QUERY, QueryBytes());
  test::Edit<vigil_dns>(r, [](vigil_dns& d) { d.payload_len += 1; });
  v1::Event e;
  EXPECT_THAT(Decode(r, e), StatusIs(absl::StatusCode::kInvalidArgument, "holds payload_len"));
  Record big = DnsRecord(VIGIL_KIND_DNS_QUERY, std::vector<uint8_t>(VIGIL_DNS_MAX + 1, 0));
  EXPECT_THAT(Decode(big, e), StatusIs(absl::StatusCode::kInvalidArgument, "holds payload_len"));
  Record more = DnsRecord(VIGIL_KIND_DNS_QUERY, QueryBytes());
  test::Edit<vigil_dns>(more, [](vigil_dns& d) { d.payload_total = 3; });
  EXPECT_THAT(Decode(more, e), StatusIs(absl::StatusCode::kInvalidArgument, "holds payload_len"));
}

TEST_F(NetworkDecoderTest, EveryKindRejectsTruncationAndBadFields) {
  vigil_tcp_connect c{};
  c.tuple = Tuple4("127.0.0.1", 1, "127.0.0.1", 2);
  c.result = VIGIL_CONNECT_ESTABLISHED;
  vigil_tcp_close cl{};
  cl.tuple = c.tuple;
  vigil_listen l{};
  l.tuple = c.tuple;
  vigil_bind b{};
  b.tuple = c.tuple;
  vigil_tcp_accept a{};
  a.tuple = c.tuple;
  for (Record r :
       {Rec(c, VIGIL_KIND_TCP_CONNECT), Rec(a, VIGIL_KIND_TCP_ACCEPT), Rec(l, VIGIL_KIND_LISTEN),
        Rec(b, VIGIL_KIND_BIND), Rec(cl, VIGIL_KIND_TCP_CLOSE), DnsRecord(VIGIL_KIND_DNS_QUERY, QueryBytes())}) {
    v1::Event e;
    const uint16_t kind = Decoder::PeekKind(r);
    ASSERT_THAT(Decode(r, e), IsOk()) << KindName(kind);
    // Shorter than its fixed part, header size adjusted to match.
    for (size_t len = sizeof(vigil_header); len < sizeof(vigil_header) + sizeof(vigil_sock_tuple); len += 7) {
      Record cut(r.begin(), r.begin() + static_cast<long>(len));
      test::Edit<vigil_header>(cut, [&](vigil_header& h) { h.size = static_cast<uint32_t>(len); });
      EXPECT_THAT(Decode(cut, e), StatusIs(absl::StatusCode::kInvalidArgument, "bytes")) << KindName(kind) << len;
    }
    // A family that is neither IPv4 nor IPv6.
    Record bad = r;
    const size_t family_at = sizeof(vigil_header) + offsetof(vigil_sock_tuple, family);
    bad[family_at] = 1;  // AF_UNIX
    bad[family_at + 1] = 0;
    EXPECT_THAT(Decode(bad, e), StatusIs(absl::StatusCode::kInvalidArgument, "socket family 1")) << KindName(kind);
  }
  c.result = 99;
  v1::Event e;
  EXPECT_THAT(Decode(Rec(c, VIGIL_KIND_TCP_CONNECT), e),
              StatusIs(absl::StatusCode::kInvalidArgument, "tcp connect result 99"));
  vigil_tcp_connect unknown{};
  unknown.tuple = c.tuple;
  EXPECT_THAT(Decode(Rec(unknown, 30), e), StatusIs(absl::StatusCode::kInvalidArgument, "unknown event kind 30"));
}

TEST_F(NetworkDecoderTest, GarbageNeverCrashes) {
  std::mt19937 rng(16);
  const std::vector<Record> seeds = {DnsRecord(VIGIL_KIND_DNS_RESPONSE, AnswerBytes()),
                                     DnsRecord(VIGIL_KIND_DNS_QUERY, QueryBytes())};
  for (int i = 0; i < 20000; ++i) {
    Record r = seeds[i % seeds.size()];
    // Leave the header alone (so the DNS payload is what gets parsed), flip bytes after it.
    for (int n = 1 + static_cast<int>(rng() % 6); n > 0; --n) {
      r[sizeof(vigil_header) + rng() % (r.size() - sizeof(vigil_header))] = static_cast<uint8_t>(rng());
    }
    v1::Event e;
    (void)Decode(r, e);
  }
}

TEST(NetworkKindNames, EveryKindHasAName) {
  EXPECT_EQ(KindName(VIGIL_KIND_TCP_CONNECT), "tcp_connect");
  EXPECT_EQ(KindName(VIGIL_KIND_TCP_ACCEPT), "tcp_accept");
  EXPECT_EQ(KindName(VIGIL_KIND_LISTEN), "listen");
  EXPECT_EQ(KindName(VIGIL_KIND_BIND), "bind");
  EXPECT_EQ(KindName(VIGIL_KIND_TCP_CLOSE), "tcp_close");
  EXPECT_EQ(KindName(VIGIL_KIND_DNS_QUERY), "dns_query");
  EXPECT_EQ(KindName(VIGIL_KIND_DNS_RESPONSE), "dns_response");
}

}  // namespace
}  // namespace vigil
