#include "common/lru_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <random>
#include <string>

namespace vigil {
namespace {

class LruCacheTest : public ::testing::Test {
 protected:
  Clock clock() {
    return [this] { return now_; };
  }
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

TEST_F(LruCacheTest, LeastRecentlyUsedGoesFirstAndIsCounted) {
  LruCache<std::string, int> cache(3, clock());
  *cache.FindOrInsert("a").first = 1;
  *cache.FindOrInsert("b").first = 2;
  *cache.FindOrInsert("c").first = 3;
  ASSERT_NE(cache.Find("a"), nullptr);  // used: "b" is now the least recent
  auto [d, inserted] = cache.FindOrInsert("d");
  EXPECT_TRUE(inserted);
  *d = 4;
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.evictions(), 1u);
  EXPECT_EQ(cache.Find("b"), nullptr);
  EXPECT_EQ(*cache.Find("a"), 1);
  EXPECT_EQ(*cache.Find("c"), 3);
  EXPECT_EQ(*cache.Find("d"), 4);
  // "a" is the least recent now.
  cache.FindOrInsert("e");
  EXPECT_EQ(cache.Find("a"), nullptr);
  EXPECT_EQ(cache.evictions(), 2u);
  EXPECT_EQ(cache.expirations(), 0u);
}

TEST_F(LruCacheTest, PeekDoesNotChangeTheOrder) {
  LruCache<std::string, int> cache(2, clock());
  *cache.FindOrInsert("a").first = 1;
  cache.FindOrInsert("b");
  ASSERT_NE(cache.Peek("a"), nullptr);
  EXPECT_EQ(*cache.Peek("a"), 1);
  cache.FindOrInsert("c");
  EXPECT_EQ(cache.Peek("a"), nullptr) << "a Peek is not a use";
  EXPECT_NE(cache.Peek("b"), nullptr);
}

TEST_F(LruCacheTest, FindOrInsertKeepsAnExistingValue) {
  LruCache<std::string, int> cache(2, clock());
  *cache.FindOrInsert("a").first = 7;
  auto [a, inserted] = cache.FindOrInsert("a");
  EXPECT_FALSE(inserted);
  EXPECT_EQ(*a, 7);
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(LruCacheTest, NeverHoldsMoreThanItsBound) {
  LruCache<uint64_t, int> cache(16, clock());
  for (uint64_t k = 0; k < 1000; ++k) {
    cache.FindOrInsert(k);
    ASSERT_LE(cache.size(), 16u);
  }
  EXPECT_EQ(cache.size(), 16u);
  EXPECT_EQ(cache.evictions(), 1000u - 16u);
  for (uint64_t k = 1000 - 16; k < 1000; ++k) EXPECT_NE(cache.Peek(k), nullptr) << k;
}

// Many random uses, erasures and insertions against a plain list kept in
// order of use: the same entries are evicted, in the same order.
TEST_F(LruCacheTest, EvictsInTheOrderOfUseOverManyRandomOperations) {
  constexpr size_t kBound = 8;
  LruCache<int, int> cache(kBound, clock());
  std::list<int> model;  // front: most recently used
  std::mt19937 rng(42);
  auto use = [&](int k) {
    model.remove(k);
    model.push_front(k);
  };
  for (int step = 0; step < 20000; ++step) {
    const int k = static_cast<int>(rng() % 24);
    switch (rng() % 4) {
      case 0:
      case 1: {
        const bool present = std::find(model.begin(), model.end(), k) != model.end();
        auto [value, inserted] = cache.FindOrInsert(k);
        ASSERT_EQ(inserted, !present) << step;
        if (inserted) *value = k;
        use(k);
        if (model.size() > kBound) model.pop_back();
        break;
      }
      case 2: {
        const bool present = std::find(model.begin(), model.end(), k) != model.end();
        int* value = cache.Find(k);
        ASSERT_EQ(value != nullptr, present) << step;
        if (present) {
          ASSERT_EQ(*value, k);
          use(k);
        }
        break;
      }
      case 3:
        cache.Erase(k);
        model.remove(k);
        break;
    }
    ASSERT_EQ(cache.size(), model.size()) << step;
  }
  for (int k = 0; k < 24; ++k) {
    EXPECT_EQ(cache.Peek(k) != nullptr, std::find(model.begin(), model.end(), k) != model.end()) << k;
  }
}

TEST_F(LruCacheTest, EntriesGoAtTheirDeadlineOnTheInjectedClock) {
  LruCache<std::string, int> cache(8, clock());
  cache.FindOrInsert("short");
  cache.FindOrInsert("long");
  cache.FindOrInsert("forever");
  cache.ExpireAt("long", now_ + absl::Seconds(60));
  cache.ExpireAt("short", now_ + absl::Seconds(10));
  EXPECT_EQ(cache.ExpiryOf("short"), now_ + absl::Seconds(10));
  EXPECT_EQ(cache.ExpiryOf("forever"), absl::InfiniteFuture());

  now_ += absl::Seconds(10) - absl::Nanoseconds(1);
  EXPECT_EQ(cache.ExpireDue(), 0u);
  EXPECT_NE(cache.Find("short"), nullptr) << "live until its deadline";

  now_ += absl::Nanoseconds(1);
  EXPECT_EQ(cache.Peek("short"), nullptr) << "gone at its deadline, swept or not";
  EXPECT_EQ(cache.ExpireDue(), 1u);
  EXPECT_EQ(cache.size(), 2u);

  now_ += absl::Seconds(50);
  EXPECT_EQ(cache.Find("long"), nullptr) << "found expired: dropped";
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.ExpireDue(), 0u) << "already dropped when found";
  EXPECT_EQ(cache.expirations(), 2u);
  EXPECT_EQ(cache.evictions(), 0u) << "expiry is not eviction";

  now_ += absl::Hours(1000);
  EXPECT_NE(cache.Find("forever"), nullptr);
}

TEST_F(LruCacheTest, AMovedOrClearedDeadlineIsTheOneThatCounts) {
  LruCache<std::string, int> cache(8, clock());
  cache.FindOrInsert("moved");
  cache.FindOrInsert("cleared");
  cache.ExpireAt("moved", now_ + absl::Seconds(10));
  cache.ExpireAt("cleared", now_ + absl::Seconds(10));
  cache.ExpireAt("moved", now_ + absl::Seconds(30));
  cache.ExpireAt("cleared", absl::InfiniteFuture());
  now_ += absl::Seconds(20);
  EXPECT_EQ(cache.ExpireDue(), 0u);
  EXPECT_EQ(cache.size(), 2u);
  now_ += absl::Seconds(10);
  EXPECT_EQ(cache.ExpireDue(), 1u);
  EXPECT_EQ(cache.Peek("moved"), nullptr);
  EXPECT_NE(cache.Peek("cleared"), nullptr);
}

TEST_F(LruCacheTest, AnEntryMadeAgainAfterExpiryStartsWithoutADeadline) {
  LruCache<std::string, int> cache(8, clock());
  *cache.FindOrInsert("k").first = 1;
  cache.ExpireAt("k", now_ + absl::Seconds(1));
  now_ += absl::Seconds(1);
  auto [v, inserted] = cache.FindOrInsert("k");
  EXPECT_TRUE(inserted);
  EXPECT_EQ(*v, 0);
  EXPECT_EQ(cache.ExpiryOf("k"), absl::InfiniteFuture());
  now_ += absl::Seconds(10);
  EXPECT_EQ(cache.ExpireDue(), 0u) << "the old deadline does not apply to the new entry";
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(LruCacheTest, ADeadlineMovedManyTimesExpiresOnce) {
  LruCache<uint64_t, int> cache(4, clock());
  for (uint64_t k = 0; k < 4; ++k) cache.FindOrInsert(k);
  // Each answer moves the deadline; the sweep still drops each entry once.
  for (int i = 0; i < 10'000; ++i) cache.ExpireAt(static_cast<uint64_t>(i % 4), now_ + absl::Seconds(1 + i));
  now_ += absl::Seconds(20'000);
  EXPECT_EQ(cache.ExpireDue(), 4u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.expirations(), 4u);
}

// Deadlines given in order (now + a fixed grace, as the caches give them)
// and out of order (a clock stepped back, a shorter time to live) expire
// alike: each entry at its own deadline, whatever came before it.
TEST_F(LruCacheTest, DeadlinesInAndOutOfOrderExpireEachAtItsTime) {
  LruCache<uint64_t, int> cache(10'000, clock());
  std::mt19937 rng(7);
  std::vector<absl::Time> when(2'000);
  for (uint64_t k = 0; k < when.size(); ++k) {
    cache.FindOrInsert(k);
    // Mostly rising, every fifth one earlier than the last.
    when[k] = now_ + absl::Seconds(k % 5 == 4 ? rng() % 1'000 : k);
    cache.ExpireAt(k, when[k]);
  }
  // Some moved later, some never to expire.
  for (uint64_t k = 0; k < when.size(); k += 7) {
    when[k] = k % 2 ? when[k] + absl::Seconds(5) : absl::InfiniteFuture();
    cache.ExpireAt(k, when[k]);
  }
  const absl::Time start = now_;
  for (int s = 0; s <= 2'010; ++s) {
    now_ = start + absl::Seconds(s);
    size_t due = 0;
    for (uint64_t k = 0; k < when.size(); ++k) due += when[k] <= now_ && when[k] > now_ - absl::Seconds(1);
    ASSERT_EQ(cache.ExpireDue(), due) << "at " << s << " s";
    for (uint64_t k = 0; k < when.size(); k += 97) {
      ASSERT_EQ(cache.Peek(k) != nullptr, when[k] > now_) << "entry " << k << " at " << s << " s";
    }
  }
  EXPECT_EQ(cache.size(), static_cast<size_t>(std::count(when.begin(), when.end(), absl::InfiniteFuture())));
}

TEST_F(LruCacheTest, ValuesDoNotMoveWhileOthersComeAndGo) {
  LruCache<uint64_t, std::string> cache(1000, clock());
  std::string* first = cache.FindOrInsert(0).first;
  *first = "zero";
  for (uint64_t k = 1; k < 900; ++k) cache.FindOrInsert(k);
  for (uint64_t k = 1; k < 900; ++k) cache.Erase(k);
  EXPECT_EQ(cache.Find(uint64_t{0}), first);
  EXPECT_EQ(*first, "zero");
}

}  // namespace
}  // namespace vigil
