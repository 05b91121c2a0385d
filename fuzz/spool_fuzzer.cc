// Spool segments as a crash, a full disk or a bad sector leave them, on the
// sensor's side and the collector's: the input becomes up to three segment
// files (so a corrupt one can sit in the middle), then the spool is opened,
// read through, appended to and read again. Indexes must only grow.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/strings/str_format.h"
#include "fuzz_support.h"
#include "spool/spool.h"

namespace {

// Reads every record from index 0 on; traps when an index does not grow.
uint64_t ReadAll(vigil::Spool& spool) {
  uint64_t from = 0, last = 0;
  for (;;) {
    auto records = spool.Read(from, 16, 1 << 16);
    if (!records.ok() || records->empty()) return last;
    for (const vigil::SpoolRecord& r : *records) {
      if (r.index < from || (last != 0 && r.index <= last)) __builtin_trap();
      last = r.index;
    }
    from = last + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vigil::fuzz::ScratchDir scratch;
  const std::string dir = scratch.path() + "/spool";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  FuzzedDataProvider input(data, size);
  uint64_t first = input.ConsumeIntegralInRange<uint64_t>(1, 1000);
  const int segments = input.ConsumeIntegralInRange(1, 3);
  for (int i = 0; i < segments; ++i) {
    const std::string bytes =
        i + 1 == segments ? input.ConsumeRemainingBytesAsString() : input.ConsumeRandomLengthString(1 << 16);
    vigil::fuzz::WriteFile(absl::StrFormat("%s/%020u.seg", dir, first), bytes);
    first += 1 + bytes.size() / 32;
  }

  auto spool =
      vigil::Spool::Open({.dir = dir, .max_bytes = 1 << 20, .segment_bytes = 4096, .max_record_bytes = 1 << 16});
  if (!spool.ok()) return 0;
  const uint64_t last = ReadAll(**spool);
  auto appended = (*spool)->Append("after", 1);
  if (appended.ok() && *appended <= last) __builtin_trap();  // numbering went backwards
  ReadAll(**spool);
  return 0;
}
