#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace vigil {

// A map bounded in entries, for the sensor's caches. When a new entry would
// pass the bound, the least recently used one goes (an eviction); an entry
// given a deadline goes once the clock reaches it (an expiry): found expired,
// or swept by ExpireDue(). Values stay where they are while they are cached
// (node storage), so a pointer from Find() stays good until that entry is
// evicted, expired or erased. The order of use is a list threaded through
// the entries themselves: an entry is one allocation (its node), not two.
// Not thread-safe; the counts may be read from any thread.
template <typename Key, typename Value>
class LruCache {
 public:
  explicit LruCache(size_t max_entries, Clock now = CoarseNow)
      : max_entries_(max_entries > 0 ? max_entries : 1), now_(std::move(now)) {}

  // The live entry, made the most recently used; null when absent or expired.
  template <typename K>
  Value* Find(const K& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    if (Expired(it->second)) {
      Remove(it);
      expirations_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    MakeNewest(&*it);
    return &it->second.value;
  }

  // The live entry, leaving the order of use as it is.
  template <typename K>
  const Value* Peek(const K& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() || Expired(it->second) ? nullptr : &it->second.value;
  }

  // The entry for `key`, made the most recently used; `true` with a new
  // (value-initialised, no deadline) one when there was none or it had
  // expired. A new entry evicts the least recently used one when full.
  std::pair<Value*, bool> FindOrInsert(const Key& key) {
    if (Value* v = Find(key)) return {v, false};
    auto [it, inserted] = entries_.try_emplace(key);
    Link(&*it);
    while (entries_.size() > max_entries_) {
      Remove(entries_.find(oldest_->first));
      evictions_.fetch_add(1, std::memory_order_relaxed);
    }
    size_.store(entries_.size(), std::memory_order_relaxed);
    return {&it->second.value, true};
  }

  // The entry goes at `when` (absl::InfiniteFuture(): never); no-op when absent.
  template <typename K>
  void ExpireAt(const K& key, absl::Time when) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    it->second.expires = when;
    if (when == absl::InfiniteFuture()) return;
    // Callers mostly give "now + a fixed grace", so deadlines mostly come in
    // order: those queue up, and only the others go through the heap, whose
    // every pop walks its depth (on the process cache, ~14 levels of cache
    // misses per exited process).
    if (in_order_.empty() || when >= in_order_.back().when) {
      in_order_.push_back({when, it->first});
    } else {
      deadlines_.push_back({when, it->first});
      std::push_heap(deadlines_.begin(), deadlines_.end(), Later);
    }
    // Deadlines moved or dropped leave stale records behind: rebuilt from the
    // entries before they outnumber them.
    if (in_order_.size() + deadlines_.size() > 2 * entries_.size() + 64) RebuildDeadlines();
  }

  // The entry's deadline; absl::InfiniteFuture() when it has none or is absent.
  template <typename K>
  absl::Time ExpiryOf(const K& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? absl::InfiniteFuture() : it->second.expires;
  }

  template <typename K>
  void Erase(const K& key) {
    if (auto it = entries_.find(key); it != entries_.end()) Remove(it);
  }

  // Drops every entry whose deadline has come; returns how many.
  size_t ExpireDue() {
    // Most calls find nothing queued: the clock is read only when something is.
    const absl::Time now = in_order_.empty() && deadlines_.empty() ? absl::InfinitePast() : now_();
    size_t expired = 0;
    auto expire = [&](const Deadline& d) {
      // A record is stale when its entry went meanwhile or was given another deadline.
      auto it = entries_.find(d.key);
      if (it != entries_.end() && it->second.expires == d.when) {
        Remove(it);
        ++expired;
      }
    };
    while (!in_order_.empty() && in_order_.front().when <= now) {
      expire(in_order_.front());
      in_order_.pop_front();
    }
    while (!deadlines_.empty() && deadlines_.front().when <= now) {
      std::pop_heap(deadlines_.begin(), deadlines_.end(), Later);
      expire(deadlines_.back());
      deadlines_.pop_back();
    }
    expirations_.fetch_add(expired, std::memory_order_relaxed);
    // A burst of short-lived entries leaves the table's slots behind: shrink
    // it once it is mostly empty, so memory follows the cache back down.
    if (entries_.capacity() > 1024 && entries_.size() < entries_.capacity() / 8) entries_.rehash(0);
    return expired;
  }

  size_t size() const { return size_.load(std::memory_order_relaxed); }
  size_t max_entries() const { return max_entries_; }
  // Entries pushed out by the bound, and entries that reached their deadline.
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }
  uint64_t expirations() const { return expirations_.load(std::memory_order_relaxed); }

 private:
  struct Entry;
  using Node = std::pair<const Key, Entry>;
  struct Entry {
    Value value{};
    absl::Time expires = absl::InfiniteFuture();
    Node* newer = nullptr;  // toward the most recently used
    Node* older = nullptr;
  };
  using Map = absl::node_hash_map<Key, Entry>;
  // Most entries have no deadline: no clock read for them.
  bool Expired(const Entry& e) const { return e.expires != absl::InfiniteFuture() && e.expires <= now_(); }
  struct Deadline {
    absl::Time when;
    Key key;
  };
  static bool Later(const Deadline& a, const Deadline& b) { return a.when > b.when; }

  // Puts `n`, not in the list, at its front.
  void Link(Node* n) {
    n->second.newer = nullptr;
    n->second.older = newest_;
    (newest_ != nullptr ? newest_->second.newer : oldest_) = n;
    newest_ = n;
  }
  void Unlink(Node* n) {
    (n->second.newer != nullptr ? n->second.newer->second.older : newest_) = n->second.older;
    (n->second.older != nullptr ? n->second.older->second.newer : oldest_) = n->second.newer;
  }
  void MakeNewest(Node* n) {
    if (n == newest_) return;
    Unlink(n);
    Link(n);
  }

  void Remove(typename Map::iterator it) {
    Unlink(&*it);
    entries_.erase(it);
    size_.store(entries_.size(), std::memory_order_relaxed);
  }

  // Every live deadline once, in order, in the queue.
  void RebuildDeadlines() {
    deadlines_.clear();
    in_order_.clear();
    for (const auto& [key, entry] : entries_) {
      if (entry.expires != absl::InfiniteFuture()) in_order_.push_back({entry.expires, key});
    }
    std::sort(in_order_.begin(), in_order_.end(), [](const Deadline& a, const Deadline& b) { return Later(b, a); });
  }

  const size_t max_entries_;
  const Clock now_;
  Map entries_;
  Node* newest_ = nullptr;  // the order of use, through Entry::older
  Node* oldest_ = nullptr;
  std::deque<Deadline> in_order_;    // nondecreasing `when`
  std::vector<Deadline> deadlines_;  // the others: a min-heap on `when`
  std::atomic<size_t> size_{0};
  std::atomic<uint64_t> evictions_{0};
  std::atomic<uint64_t> expirations_{0};
};

}  // namespace vigil
