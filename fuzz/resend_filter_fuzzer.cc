// The collector's resend-filter file, read at start: a corrupt file is
// refused as a whole, and whatever is accepted saves and loads back.
#include <cstddef>
#include <cstdint>
#include <string>

#include "collector/resend_filter.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vigil::fuzz::ScratchDir dir;
  const std::string path = dir.path() + "/resend-filter";
  vigil::fuzz::WriteFile(path, std::string(reinterpret_cast<const char*>(data), size));
  vigil::collector::ResendFilter filter({.per_sensor = 8, .max_sensors = 8});
  if (!filter.Load(path).ok()) return 0;
  const std::string saved = dir.path() + "/resend-filter.saved";
  // Loaded batches have no copy in this run's spool: nothing to confirm.
  if (!filter.Save(saved, [](uint64_t) { return true; }).ok()) __builtin_trap();
  vigil::collector::ResendFilter reloaded({.per_sensor = 8, .max_sensors = 8});
  if (!reloaded.Load(saved).ok() || reloaded.sensors() != filter.sensors()) __builtin_trap();
  return 0;
}
