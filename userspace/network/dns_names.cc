#include "network/dns_names.h"

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

void DnsNames::Remember(const std::string& exec_id, const std::string& address, const std::string& name,
                        absl::Time expires) {
  Key key{exec_id, Normalize(address)};
  if (auto it = entries_.find(key); it != entries_.end()) {
    order_.erase(it->second.order);
    entries_.erase(it);
  }
  while (!entries_.empty() && entries_.size() >= options_.max_entries) {
    entries_.erase(order_.front());
    order_.pop_front();
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  order_.push_back(key);
  entries_.emplace(std::move(key), Entry{name, expires, std::prev(order_.end())});
  size_.store(entries_.size(), std::memory_order_relaxed);
}

void DnsNames::Enrich(v1::Event& event) {
  if (event.kind() == v1::EVENT_KIND_DNS_RESPONSE && event.has_dns_response()) {
    const v1::DnsResponse& r = event.dns_response();
    const absl::Duration life =
        std::clamp(absl::Seconds(r.ttl()), kMinLifetime, std::max(options_.max_age, kMinLifetime));
    for (const std::string& address : r.addresses()) {
      Remember(event.process().exec_id(), address, r.name(), TimeOf(event) + life);
    }
    return;
  }
  if (event.kind() != v1::EVENT_KIND_TCP_CONNECT || !event.has_tcp_connect()) return;
  auto it = entries_.find(Key{event.process().exec_id(), Normalize(event.tcp_connect().remote().ip())});
  if (it == entries_.end()) return;
  if (TimeOf(event) > it->second.expires) {
    order_.erase(it->second.order);
    entries_.erase(it);
    size_.store(entries_.size(), std::memory_order_relaxed);
    return;
  }
  event.mutable_tcp_connect()->set_remote_name(it->second.name);
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
