// /proc/<pid>/{stat,status,cmdline} as the process cache reads them at start:
// a process controls its comm (and so the stat line) and its argv. The input
// is split into the three files.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "fuzz_support.h"
#include "process/procfs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vigil::fuzz::ScratchDir root;
  static const std::string dir = [] {
    std::filesystem::create_directories(root.path() + "/4242");
    return root.path() + "/4242";
  }();
  FuzzedDataProvider input(data, size);
  vigil::fuzz::WriteFile(dir + "/stat", input.ConsumeRandomLengthString(4096));
  vigil::fuzz::WriteFile(dir + "/status", input.ConsumeRandomLengthString(4096));
  vigil::fuzz::WriteFile(dir + "/cmdline", input.ConsumeRemainingBytesAsString());
  (void)vigil::ReadProcEntry(root.path(), 4242);
  return 0;
}
