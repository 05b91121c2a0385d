#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "common/lru_cache.h"
#include "pipeline/stage.h"

namespace vigil {

struct DnsNamesOptions {
  size_t max_entries = 4096;                  // (process, address) pairs remembered; least recently used go first
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

  explicit DnsNames(DnsNamesOptions options)
      : options_(options), names_(options.max_entries, [this] { return event_time_; }) {}
  void Enrich(v1::Event& event) override;
  // Any thread.
  size_t size() const { return names_.size(); }
  uint64_t evictions() const { return names_.evictions(); }
  void Report(std::vector<StageReport>& out) const override;

 private:
  using Key = std::pair<std::string, std::string>;  // exec id, address

  const DnsNamesOptions options_;
  absl::Time event_time_;  // the clock of names_: the time of the event at hand
  // Expired entries go when met; least recently used first when full.
  LruCache<Key, std::string> names_;
};

}  // namespace vigil
