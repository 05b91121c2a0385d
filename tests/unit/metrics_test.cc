// The Prometheus text registry: exposition format, naming rules, histograms.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <cstdio>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"

namespace vigil::metrics {
namespace {

using ::testing::HasSubstr;

TEST(Registry, RendersCountersAndGaugesWithHelpTypeAndLabels) {
  Registry r;
  r.GetCounter("vigil_events_total", "Events.", {{"kind", "exec"}}).Increment(3);
  r.GetCounter("vigil_events_total", "Events.", {{"kind", "exec"}}).Increment();
  r.GetGauge("vigil_queue_depth", "Depth.").Set(12.5);
  EXPECT_EQ(r.Render(),
            "# HELP vigil_events_total Events.\n"
            "# TYPE vigil_events_total counter\n"
            "vigil_events_total{kind=\"exec\"} 4\n"
            "# HELP vigil_queue_depth Depth.\n"
            "# TYPE vigil_queue_depth gauge\n"
            "vigil_queue_depth 12.5\n");
}

TEST(Registry, EscapesLabelValuesAndHelp) {
  Registry r;
  r.GetGauge("vigil_x", "a\\b\nc", {{"path", "C:\\\"x\"\n"}}).Set(1);
  EXPECT_THAT(r.Render(), HasSubstr("# HELP vigil_x a\\\\b\\nc\n"));
  EXPECT_THAT(r.Render(), HasSubstr("vigil_x{path=\"C:\\\\\\\"x\\\"\\n\"} 1\n"));
}

TEST(Registry, LargeCountersKeepEveryDigit) {
  Registry r;
  r.GetCounter("vigil_big_total", "Big.").Set(12345678901234.0);
  EXPECT_THAT(r.Render(), HasSubstr("vigil_big_total 12345678901234\n"));
}

TEST(Registry, HistogramHasCumulativeBucketsSumAndCount) {
  Registry r;
  Histogram& h = r.GetHistogram("vigil_latency_seconds", "Latency.", {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(0.5);
  h.Observe(5);
  EXPECT_EQ(r.Render(),
            "# HELP vigil_latency_seconds Latency.\n"
            "# TYPE vigil_latency_seconds histogram\n"
            "vigil_latency_seconds_bucket{le=\"0.1\"} 1\n"
            "vigil_latency_seconds_bucket{le=\"1\"} 3\n"
            "vigil_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "vigil_latency_seconds_sum 6.05\n"
            "vigil_latency_seconds_count 4\n");
}

TEST(Registry, HistogramObservesGatheredValuesAsOneByOne) {
  // In runs of one bucket and not: 0.5 twice, then 5, then 0.05 again.
  const std::vector<double> values = {0.05, 0.5, 0.5, 5, 0.05, 1};
  Registry one_by_one, gathered;
  Histogram& a = one_by_one.GetHistogram("vigil_latency_seconds", "Latency.", {0.1, 1});
  for (double v : values) a.Observe(v);
  gathered.GetHistogram("vigil_latency_seconds", "Latency.", {0.1, 1}).ObserveAll(values);
  gathered.GetHistogram("vigil_latency_seconds", "Latency.", {0.1, 1}).ObserveAll({});
  EXPECT_EQ(gathered.Render(), one_by_one.Render());
  EXPECT_THAT(gathered.Render(), HasSubstr("vigil_latency_seconds_bucket{le=\"1\"} 5\n"));
  EXPECT_THAT(gathered.Render(), HasSubstr("vigil_latency_seconds_count 6\n"));
}

TEST(Registry, ScrapeHooksRefreshMirroredValues) {
  Registry r;
  int calls = 0;
  r.OnScrape([&](Registry& reg) { reg.GetCounter("vigil_mirrored_total", "From elsewhere.").Set(++calls * 10); });
  EXPECT_THAT(r.Render(), HasSubstr("vigil_mirrored_total 10\n"));
  EXPECT_THAT(r.Render(), HasSubstr("vigil_mirrored_total 20\n"));
}

TEST(Registry, ExponentialBuckets) {
  EXPECT_EQ(ExponentialBuckets(0.001, 10, 3), (std::vector<double>{0.001, 0.01, 0.1}));
}

TEST(RegistryDeathTest, NamesFollowPrometheusConventions) {
  Registry r;
  EXPECT_DEATH(r.GetCounter("vigil_events", "no _total"), "counters, and only counters, end in _total");
  EXPECT_DEATH(r.GetGauge("vigil_depth_total", "gauge with _total"), "counters, and only counters");
  EXPECT_DEATH(r.GetGauge("other_depth", "no prefix"), "must start with vigil_");
  EXPECT_DEATH(r.GetGauge("vigil_Depth", "upper case"), "name must be");
  Registry collector("vigil_collector_");
  EXPECT_DEATH(collector.GetGauge("vigil_depth", "wrong prefix"), "must start with vigil_collector_");
}

// A start-up step after the metrics server can fail (another sensor serves
// the API): the server is then destroyed at once, and that must return, not
// wait for a listener that never stops (issue 15, defect 8).
TEST(HttpServer, DestroyedRightAfterStartReturns) {
  absl::Notification done;
  std::thread cycles([&] {
    Registry registry;
    for (int i = 0; i < 200; ++i) {
      auto server = HttpServer::Start("127.0.0.1:0", &registry, {});
      ASSERT_TRUE(server.ok()) << server.status();
    }
    done.Notify();
  });
  // Not a speed check: 200 cycles take milliseconds; only a hang reaches this.
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(60))) {
    std::fprintf(stderr, "HttpServer destruction hung: the listener never stopped\n");
    _exit(1);  // the hung thread cannot be joined
  }
  cycles.join();
}

// Issue 15, defect 9: no request body is buffered (the server serves GETs only).
TEST(HttpServer, RequestBodiesAreRefused) {
  Registry registry;
  auto server = HttpServer::Start("127.0.0.1:0", &registry, {});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string& address = (*server)->address();
  httplib::Client client("127.0.0.1", std::stoi(address.substr(address.rfind(':') + 1)));
  auto res = client.Post("/metrics", std::string(64 << 10, 'x'), "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

}  // namespace
}  // namespace vigil::metrics
