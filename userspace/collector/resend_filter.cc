#include "collector/resend_filter.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file.h"

namespace vigil::collector {

namespace {

constexpr absl::string_view kHeader = "vigil-resend-filter 1\n";

std::string Key(const v1::PublishRequest& batch) {
  return absl::StrCat(batch.sensor().cluster(), "\t", batch.sensor().node());
}

}  // namespace

uint64_t ResendFilter::Fingerprint(const v1::PublishRequest& batch) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (const v1::Event& e : batch.events()) {
    for (char c : e.id()) mix(static_cast<unsigned char>(c));
    mix(0);
  }
  return h;
}

ResendFilter::Sensor& ResendFilter::Touch(const std::string& key) {
  auto [it, inserted] = sensors_.try_emplace(key);
  if (inserted) {
    lru_.push_front(key);
    it->second.lru = lru_.begin();
    if (sensors_.size() > options_.max_sensors) {
      sensors_.erase(lru_.back());
      lru_.pop_back();
    }
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  return it->second;
}

void ResendFilter::Remember(Sensor& sensor, uint64_t sequence, Batch batch) {
  sensor.batches.insert_or_assign(sequence, batch);
  while (sensor.batches.size() > options_.per_sensor) sensor.batches.erase(sensor.batches.begin());
}

absl::StatusOr<ResendFilter::Stored> ResendFilter::StoreOnce(
    const v1::PublishRequest& batch, absl::FunctionRef<absl::StatusOr<uint64_t>()> append,
    absl::FunctionRef<bool(uint64_t spool_index)> may_be_lost) {
  const uint64_t fingerprint = Fingerprint(batch);
  absl::MutexLock lock(&mu_);
  Sensor& sensor = Touch(Key(batch));
  if (auto it = sensor.batches.find(batch.sequence());
      it != sensor.batches.end() && it->second.fingerprint == fingerprint) {
    const std::optional<uint64_t> index = it->second.spool_index;
    if (!index.has_value() || !may_be_lost(*index)) return Stored{.resent = true, .spool_index = index};
  }
  absl::StatusOr<uint64_t> index = append();
  if (!index.ok()) return index.status();
  Remember(sensor, batch.sequence(), Batch{.fingerprint = fingerprint, .spool_index = *index});
  return Stored{.resent = false, .spool_index = *index};
}

size_t ResendFilter::sensors() {
  absl::MutexLock lock(&mu_);
  return sensors_.size();
}

absl::Status ResendFilter::Save(const std::string& path, absl::FunctionRef<bool(uint64_t spool_index)> durable) {
  std::string text(kHeader);
  {
    absl::MutexLock lock(&mu_);
    // Least recent first, so Load() rebuilds the same order.
    for (auto key = lru_.rbegin(); key != lru_.rend(); ++key) {
      for (const auto& [sequence, batch] : sensors_.at(*key).batches) {
        if (batch.spool_index.has_value() && !durable(*batch.spool_index)) continue;
        absl::StrAppend(&text, absl::CEscape(*key), "\t", sequence, "\t", batch.fingerprint, "\n");
      }
    }
  }
  return WriteFileAtomically(path, text, true);
}

absl::Status ResendFilter::Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::string_view rest(*text);
  if (!absl::ConsumePrefix(&rest, kHeader)) return absl::DataLossError(absl::StrCat(path, ": not a resend filter"));
  struct Row {
    std::string key;
    uint64_t sequence, fingerprint;
  };
  std::vector<Row> rows;
  int line_number = 1;
  for (absl::string_view line : absl::StrSplit(rest, '\n', absl::SkipEmpty())) {
    ++line_number;
    std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    Row row;
    if (fields.size() != 3 || !absl::CUnescape(fields[0], &row.key) || !absl::SimpleAtoi(fields[1], &row.sequence) ||
        !absl::SimpleAtoi(fields[2], &row.fingerprint)) {
      return absl::DataLossError(absl::StrCat(path, ":", line_number, ": malformed"));
    }
    rows.push_back(std::move(row));
  }
  if (!rest.empty() && rest.back() != '\n') return absl::DataLossError(absl::StrCat(path, ": cut short"));
  absl::MutexLock lock(&mu_);
  for (const Row& row : rows) {
    Remember(Touch(row.key), row.sequence, Batch{.fingerprint = row.fingerprint, .spool_index = std::nullopt});
  }
  return absl::OkStatus();
}

}  // namespace vigil::collector
