#include "dns/dns_names.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/util/time_util.h"

namespace vigil {

namespace {

absl::Time TimeOf(const v1::Event& event) {
  return absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(event.time()));
}

// An AF_INET6 socket talking IPv4 shows ::ffff:a.b.c.d; A answers say a.b.c.d.
std::string Normalize(absl::string_view ip) {
  constexpr absl::string_view kMapped = "::ffff:";
  if (absl::StartsWith(ip, kMapped) && absl::StrContains(ip.substr(kMapped.size()), '.')) {
    ip.remove_prefix(kMapped.size());
  }
  return std::string(ip);
}

}  // namespace

void DnsNames::Enrich(v1::Event& event) {
  const bool response = event.kind() == v1::EVENT_KIND_DNS_RESPONSE && event.has_dns_response();
  const bool connect = event.kind() == v1::EVENT_KIND_TCP_CONNECT && event.has_tcp_connect();
  if (!response && !connect) return;
  // Not swept by time: a late event may still match what a newer one outlived.
  event_time_ = TimeOf(event);
  if (response) {
    const v1::DnsResponse& r = event.dns_response();
    const absl::Duration life =
        std::clamp(absl::Seconds(r.ttl()), kMinLifetime, std::max(options_.max_age, kMinLifetime));
    for (const std::string& address : r.addresses()) {
      Key key{event.process().exec_id(), Normalize(address)};
      *names_.FindOrInsert(key).first = r.name();
      // Good through its last instant: it goes just after.
      names_.ExpireAt(key, event_time_ + life + absl::Nanoseconds(1));
    }
    return;
  }
  const std::string* name = names_.Find(Key{event.process().exec_id(), Normalize(event.tcp_connect().remote().ip())});
  if (name != nullptr) event.mutable_tcp_connect()->set_remote_name(*name);
}

void DnsNames::Report(std::vector<StageReport>& out) const {
  StageReport& r = out.emplace_back();
  r.name = "dns-names";
  r.Gauge("entries", "vigil_dns_names_entries", "(process, address) -> name pairs remembered from DNS answers.",
          size());
  r.Counter("evictions", "vigil_dns_names_evictions_total", "Pairs evicted from the full cache before they expired.",
            evictions());
}

}  // namespace vigil
