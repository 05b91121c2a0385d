#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "pipeline/stage.h"

namespace vigil {

struct DnsNamesOptions {
  size_t max_entries = 4096;                  // (process, address) pairs remembered; oldest go first
  absl::Duration max_age = absl::Minutes(5);  // upper bound on an answer's TTL
};

// Gives a TCP connect the name its process looked up by DNS shortly before:
// DNS response events fill a bounded cache (process exec id, answer address)
// -> query name, valid for the answer's TTL (at least kMinLifetime, at most
// max_age); a connect to that address by the same process gets remote_name.
// Times are the events' own, so replayed or late events age alike.
class DnsNames : public Enricher {
 public:
  // An answer with TTL 0 is still what the program connects to next.
  static constexpr absl::Duration kMinLifetime = absl::Seconds(10);

  explicit DnsNames(DnsNamesOptions options) : options_(options) {}
  void Enrich(v1::Event& event) override;
  // Any thread.
  size_t size() const { return size_.load(std::memory_order_relaxed); }
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }
  void Report(std::vector<StageReport>& out) const override;

 private:
  using Key = std::pair<std::string, std::string>;  // exec id, address
  struct Entry {
    std::string name;
    absl::Time expires;
    std::list<Key>::iterator order;
  };
  void Remember(const std::string& exec_id, const std::string& address, const std::string& name, absl::Time expires);

  const DnsNamesOptions options_;
  absl::flat_hash_map<Key, Entry> entries_;
  std::list<Key> order_;         // least recently written first
  std::atomic<size_t> size_{0};  // entries_.size(), for other threads
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace vigil
