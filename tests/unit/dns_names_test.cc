// Connect events named by the same process's earlier DNS answers.
#include "dns/dns_names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "google/protobuf/util/time_util.h"

namespace vigil {
namespace {

using google::protobuf::util::TimeUtil;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

v1::Event Response(const std::string& exec_id, const std::string& name, std::vector<std::string> addresses,
                   uint32_t ttl, absl::Time at = kT0) {
  v1::Event e;
  e.set_kind(v1::EVENT_KIND_DNS_RESPONSE);
  e.mutable_process()->set_exec_id(exec_id);
  *e.mutable_time() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(at));
  v1::DnsResponse* r = e.mutable_dns_response();
  r->set_name(name);
  for (const std::string& a : addresses) r->add_addresses(a);
  r->set_ttl(ttl);
  return e;
}

v1::Event Connect(const std::string& exec_id, const std::string& ip, absl::Time at) {
  v1::Event e;
  e.set_kind(v1::EVENT_KIND_TCP_CONNECT);
  e.mutable_process()->set_exec_id(exec_id);
  *e.mutable_time() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(at));
  e.mutable_tcp_connect()->mutable_remote()->set_ip(ip);
  return e;
}

std::string NameOf(DnsNames& names, const std::string& exec_id, const std::string& ip, absl::Time at) {
  v1::Event e = Connect(exec_id, ip, at);
  names.Enrich(e);
  return e.tcp_connect().remote_name();
}

TEST(DnsNames, SameProcessGetsTheNameOfEveryAnswer) {
  DnsNames names({});
  v1::Event r = Response("n:1:100", "api.example.com", {"10.0.0.1", "2001:db8::1"}, 60);
  names.Enrich(r);
  EXPECT_EQ(NameOf(names, "n:1:100", "10.0.0.1", kT0 + absl::Seconds(1)), "api.example.com");
  EXPECT_EQ(NameOf(names, "n:1:100", "2001:db8::1", kT0 + absl::Seconds(1)), "api.example.com");
  EXPECT_EQ(NameOf(names, "n:1:100", "10.0.0.2", kT0 + absl::Seconds(1)), "");
}

TEST(DnsNames, OtherProcessesDoNot) {
  DnsNames names({});
  v1::Event r = Response("n:1:100", "api.example.com", {"10.0.0.1"}, 60);
  names.Enrich(r);
  EXPECT_EQ(NameOf(names, "n:1:101", "10.0.0.1", kT0), "");
  // Same pid, another start time: a reused pid is another process.
  EXPECT_EQ(NameOf(names, "n:2:100", "10.0.0.1", kT0), "");
}

TEST(DnsNames, V4MappedConnectMatchesAnARecord) {
  DnsNames names({});
  v1::Event r = Response("p", "db.internal", {"192.168.1.9"}, 60);
  names.Enrich(r);
  EXPECT_EQ(NameOf(names, "p", "::ffff:192.168.1.9", kT0), "db.internal");
}

TEST(DnsNames, AnswersExpireWithTheirTtlWithinBounds) {
  DnsNames names({.max_entries = 16, .max_age = absl::Seconds(120)});
  v1::Event a = Response("p", "ttl30", {"10.0.0.30"}, 30);
  v1::Event zero = Response("p", "ttl0", {"10.0.0.0"}, 0);
  v1::Event day = Response("p", "ttl-day", {"10.0.0.86"}, 86400);
  names.Enrich(a);
  names.Enrich(zero);
  names.Enrich(day);
  EXPECT_EQ(NameOf(names, "p", "10.0.0.30", kT0 + absl::Seconds(30)), "ttl30");
  EXPECT_EQ(NameOf(names, "p", "10.0.0.30", kT0 + absl::Seconds(31)), "");
  // TTL 0 still names the connect that follows at once.
  EXPECT_EQ(NameOf(names, "p", "10.0.0.0", kT0 + absl::Seconds(9)), "ttl0");
  EXPECT_EQ(NameOf(names, "p", "10.0.0.0", kT0 + DnsNames::kMinLifetime + absl::Seconds(1)), "");
  // A day-long TTL is capped at max_age.
  EXPECT_EQ(NameOf(names, "p", "10.0.0.86", kT0 + absl::Seconds(120)), "ttl-day");
  EXPECT_EQ(NameOf(names, "p", "10.0.0.86", kT0 + absl::Seconds(121)), "");
  EXPECT_EQ(names.size(), 0u) << "expired entries are dropped when met";
}

TEST(DnsNames, BoundedLeastRecentlyUsedGoesFirst) {
  DnsNames names({.max_entries = 2});
  auto answer = [&](int i) {
    v1::Event r = Response("p", "n" + std::to_string(i), {"10.0.0." + std::to_string(i)}, 60);
    names.Enrich(r);
  };
  answer(1);
  answer(2);
  EXPECT_EQ(NameOf(names, "p", "10.0.0.1", kT0), "n1");  // used: 10.0.0.2 is now the least recent
  answer(3);
  EXPECT_EQ(names.size(), 2u);
  EXPECT_EQ(names.evictions(), 1u);
  EXPECT_EQ(NameOf(names, "p", "10.0.0.2", kT0), "");
  EXPECT_EQ(NameOf(names, "p", "10.0.0.1", kT0), "n1");
  EXPECT_EQ(NameOf(names, "p", "10.0.0.3", kT0), "n3");
}

TEST(DnsNames, ALaterAnswerForTheSameAddressWins) {
  DnsNames names({.max_entries = 2});
  v1::Event first = Response("p", "old.example", {"10.0.0.1"}, 60);
  v1::Event second = Response("p", "new.example", {"10.0.0.1"}, 60, kT0 + absl::Seconds(5));
  names.Enrich(first);
  names.Enrich(second);
  EXPECT_EQ(names.size(), 1u);
  EXPECT_EQ(NameOf(names, "p", "10.0.0.1", kT0 + absl::Seconds(6)), "new.example");
}

}  // namespace
}  // namespace vigil
