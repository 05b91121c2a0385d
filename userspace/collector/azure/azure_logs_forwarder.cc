#include "collector/azure/azure_logs_forwarder.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "collector/azure/gzip.h"
#include "collector/azure/http_client.h"
#include "collector/azure/rows.h"
#include "collector/azure/token_source.h"
#include "common/file.h"
#include "common/log.h"
#include "common/rate_limit.h"
#include "common/status.h"

namespace vigil::collector {
namespace {

// What became of one call's rows.
enum class Outcome { kDelivered, kTooLarge, kRejected };

// So a parked file survives a crash right after Send returned OK.
absl::Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", dir));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, absl::StrCat("fsync ", dir));
  return absl::OkStatus();
}

std::string StreamUrl(const AzureLogsConfig& config, const std::string& stream) {
  return absl::StrCat(config.endpoint, "/dataCollectionRules/", config.dcr_immutable_id, "/streams/", stream,
                      "?api-version=2023-01-01");
}

class AzureLogsForwarder : public Forwarder {
 public:
  AzureLogsForwarder(const AzureLogsConfig& config, std::unique_ptr<HttpClient> http, metrics::Registry* metrics)
      : config_(config),
        metrics_(metrics),
        http_(std::move(http)),
        tokens_(config_, *http_),
        events_url_(StreamUrl(config_, config_.stream)),
        alerts_url_(StreamUrl(config_, config_.alerts_stream)),
        rng_(std::random_device{}()) {}

  const std::string& name() const override { return name_; }

  absl::Status Send(absl::Span<const v1::Event* const> events) override {
    absl::MutexLock lock(&mu_);
    // Alerts first: when the retry budget runs out part way, what an analyst
    // waits for has gone.
    StreamRows alerts{config_.alerts_stream, alerts_url_, {}, {}};
    StreamRows rest{config_.stream, events_url_, {}, {}};
    for (const v1::Event* event : events) {
      const v1::Event& e = *event;
      // Delivered by an earlier, partly failed Send of this same batch.
      if (delivered_.contains(e.id())) continue;
      StreamRows& to = StreamOf(e) == RowStream::kAlerts ? alerts : rest;
      AppendRow(e, config_.cluster, to.rows.emplace_back());
      to.ids.push_back(&e.id());
    }
    absl::Time deadline = absl::Now() + config_.retry_budget;
    for (const StreamRows* stream : {&alerts, &rest}) {
      if (auto s = SendStream(*stream, deadline); !s.ok()) return s;
    }
    delivered_.clear();
    return absl::OkStatus();
  }

 private:
  // The rows of one Send for one DCR stream, in event order.
  struct StreamRows {
    const std::string& name;
    const std::string& url;
    std::vector<std::string> rows;
    std::vector<const std::string*> ids;  // the event id of each row
  };

  // Packs `stream`'s rows into calls and delivers or parks each. Every row
  // settled is remembered in delivered_, so an error part way (the caller
  // retries the whole batch) does not send them twice. A refusal parks the
  // call's rows and goes on: one stream's 4xx costs the other nothing.
  absl::Status SendStream(const StreamRows& stream, absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::vector<std::string>& rows = stream.rows;
    std::vector<size_t> oversized;
    std::vector<RowRange> packed = PackRows(rows, config_.max_call_bytes, oversized);
    for (size_t i : oversized) {
      Logger("azure")->error("event {} makes a row of {} bytes, over the {}-byte call limit", *stream.ids[i],
                             rows[i].size(), config_.max_call_bytes);
      if (auto s = Park(JsonArrayBody(rows, {i, i + 1}), stream.name, "not sent",
                        absl::StrCat("one row of ", rows[i].size(), " bytes is over the ", config_.max_call_bytes,
                                     "-byte call limit"));
          !s.ok()) {
        return s;
      }
      delivered_.insert(*stream.ids[i]);
    }
    std::deque<RowRange> work(packed.begin(), packed.end());
    while (!work.empty()) {
      RowRange range = work.front();
      work.pop_front();
      std::string body = JsonArrayBody(rows, range);
      HttpResponse response;
      auto outcome = Deliver(stream.url, body, deadline, response);
      if (!outcome.ok()) return outcome.status();
      if (*outcome == Outcome::kTooLarge && range.size() > 1) {
        // 413: the service measured the call as too large; halve it.
        size_t mid = range.begin + range.size() / 2;
        work.push_front({mid, range.end});
        work.push_front({range.begin, mid});
        continue;
      }
      if (*outcome != Outcome::kDelivered) {
        Logger("azure")->error("Logs Ingestion API refused {} rows of {} with HTTP {}: {}", range.size(), stream.name,
                               response.status, PrintableBody(response.body));
        if (auto s = Park(body, stream.name, absl::StrCat("HTTP ", response.status), response.body); !s.ok()) {
          return s;
        }
      }
      for (size_t i = range.begin; i < range.end; ++i) delivered_.insert(*stream.ids[i]);
    }
    return absl::OkStatus();
  }

  // One call, retried until it gets an answer that settles it or the
  // deadline passes. Retry rules as the Logs Ingestion API documents them
  // (https://learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview#limits-and-restrictions,
  // https://learn.microsoft.com/azure/azure-monitor/fundamentals/service-limits#logs-ingestion-api):
  // 204 is success; 429 comes with Retry-After, the seconds to wait; 413 means
  // the call is over 1 MB; 408 and 5xx are transient.
  absl::StatusOr<Outcome> Deliver(const std::string& url, const std::string& body, absl::Time deadline,
                                  HttpResponse& response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto gzipped = Gzip(body);
    if (!gzipped.ok()) return gzipped.status();
    absl::Duration backoff = config_.initial_backoff;
    bool refreshed_after_401 = false;
    // A 429's Retry-After outlives the Send that got it: the collector may
    // hand the batch back sooner than the service asked.
    if (absl::Time now = absl::Now(); now < throttled_until_) {
      if (throttled_until_ > deadline) return absl::UnavailableError("azure-logs is throttled (429 Retry-After)");
      absl::SleepFor(throttled_until_ - now);
    }
    for (;;) {
      absl::Duration wait;
      absl::Status failure;
      auto token = tokens_.Get();
      if (!token.ok()) {
        failure = token.status();
        wait = NextBackoff(backoff);
      } else {
        auto r = http_->Post(url,
                             {absl::StrCat("Authorization: Bearer ", *token), "Content-Type: application/json",
                              "Content-Encoding: gzip"},
                             *gzipped);
        CountCall(r.ok() ? absl::StrCat(r->status) : "error");
        if (r.ok()) response = *std::move(r);
        if (r.ok() && (response.status == 204 || response.status == 200)) return Outcome::kDelivered;
        if (r.ok() && response.status == 413) return Outcome::kTooLarge;
        if (r.ok() && response.status == 401) {
          // The token was revoked or expired early: a fresh one, the first
          // time at once.
          tokens_.Invalidate();
          if (!refreshed_after_401) {
            refreshed_after_401 = true;
            continue;
          }
        }
        if (!r.ok()) {
          failure = r.status();
          wait = NextBackoff(backoff);
        } else if (response.status == 429) {
          failure = absl::ResourceExhaustedError(absl::StrCat("HTTP 429: ", PrintableBody(response.body)));
          // Capped: a huge Retry-After (a broken proxy, a hostile endpoint)
          // would stall this forwarder for as long as it says.
          wait = std::min(response.retry_after.value_or(NextBackoff(backoff)), config_.max_retry_after);
          throttled_until_ = absl::Now() + wait;
        } else if (response.status == 408 || response.status >= 500 || response.status == 401) {
          failure = absl::UnavailableError(absl::StrCat("HTTP ", response.status, ": ", PrintableBody(response.body)));
          wait = NextBackoff(backoff);
        } else {
          return Outcome::kRejected;  // 400, 403, 404, ...: retrying cannot help
        }
      }
      if (absl::Now() + wait > deadline) {
        return absl::UnavailableError(absl::StrCat("azure-logs gave up retrying for now: ", failure.message()));
      }
      if (warn_limit_.Allow(suppressed_)) {
        Logger("azure")->warn("retrying in {}: {} ({} similar suppressed)", absl::FormatDuration(wait),
                              failure.message(), suppressed_);
      }
      absl::SleepFor(wait);
    }
  }

  // Ingestion calls by HTTP status ("error": no answer).
  void CountCall(const std::string& status) {
    if (metrics_ == nullptr) return;
    metrics_
        ->GetCounter("vigil_collector_azure_calls_total", "Logs Ingestion API calls, by HTTP status.",
                     {{"status", status}})
        .Increment();
  }

  // Capped exponential backoff with jitter (50..100% of the step), so
  // collector replicas do not retry in lockstep.
  absl::Duration NextBackoff(absl::Duration& step) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::Duration wait = step * std::uniform_real_distribution<double>(0.5, 1.0)(rng_);
    step = std::min(step * 2, config_.max_backoff);
    return wait;
  }

  // The body as sent (uncompressed: replay it with gzip + curl, see
  // deploy/azure/README.md) and, next to it, why it was refused and the
  // stream to replay it to.
  absl::Status Park(const std::string& body, absl::string_view stream, absl::string_view what, absl::string_view detail)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // Bounded: a refusal that lasts (a revoked role: every call 403) must
    // not fill the disk. Past the cap the batch stays in the collector's
    // spool, retried later, and the spool's own cap counts what it drops.
    std::error_code ec;
    uint64_t used = 0;
    for (const auto& entry : std::filesystem::directory_iterator(config_.dead_letter_dir, ec)) {
      if (entry.is_regular_file(ec)) used += entry.file_size(ec);
    }
    if (used + body.size() > config_.dead_letter_max_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat("dead-letter directory ", config_.dead_letter_dir, " holds ",
                                                       used, " bytes, its cap is ", config_.dead_letter_max_bytes));
    }
    std::string base = absl::StrCat(config_.dead_letter_dir, "/", absl::ToUnixNanos(absl::Now()), "-", ++parked_);
    if (auto s = WriteFileAtomically(base + ".json", body, /*sync=*/true); !s.ok()) return s;
    constexpr size_t kMaxDetail = 4096;  // an error body can be megabytes
    if (auto s = WriteFileAtomically(base + ".reason",
                                     absl::StrCat(what, "\nstream: ", stream, "\n", detail.substr(0, kMaxDetail), "\n"),
                                     /*sync=*/true);
        !s.ok())
      return s;
    if (auto s = SyncDirectory(config_.dead_letter_dir); !s.ok()) return s;
    Logger("azure")->error("parked a batch of {} bytes in {}.json", body.size(), base);
    return absl::OkStatus();
  }

  const std::string name_ = "azure-logs";
  const AzureLogsConfig config_;
  metrics::Registry* const metrics_;
  absl::Mutex mu_;
  std::unique_ptr<HttpClient> http_ ABSL_GUARDED_BY(mu_);
  TokenSource tokens_ ABSL_GUARDED_BY(mu_);
  const std::string events_url_;
  const std::string alerts_url_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> delivered_ ABSL_GUARDED_BY(mu_);
  uint64_t parked_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time throttled_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  RateLimit warn_limit_ ABSL_GUARDED_BY(mu_){absl::Seconds(10)};
  uint64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Forwarder>> MakeAzureLogsForwarder(const AzureLogsConfig& config,
                                                                  metrics::Registry* metrics) {
  if (auto s = Validate(config); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::create_directories(config.dead_letter_dir, ec);
  if (ec) return ErrnoStatus(ec.value(), absl::StrCat("create dead-letter directory ", config.dead_letter_dir));
  HttpOptions options;
  options.ca_bundle = config.ca_bundle;
  options.proxy = config.proxy;
  options.timeout = config.request_timeout;
  options.connect_timeout = config.connect_timeout;
  auto http = HttpClient::Create(options);
  if (!http.ok()) return http.status();
  return std::unique_ptr<Forwarder>(new AzureLogsForwarder(config, *std::move(http), metrics));
}

}  // namespace vigil::collector
