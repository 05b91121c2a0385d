#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vigil_abi.h"

namespace vigil {

// What the file family reports, applied in the kernel (bpf/file.bpf.c).
// Prefixes are byte prefixes of absolute paths; end a directory with "/".
struct FileFilterConfig {
  // Always reported, read-only opens too. An entry that does not start with
  // "/" (".aws/credentials") is a path under every home directory (/root and
  // each /home/<user>), expanded by the loader at start-up.
  std::vector<std::string> sensitive = DefaultSensitivePaths();
  // When not empty, only paths under these (and sensitive ones) are reported.
  std::vector<std::string> include;
  // Never reported, even when sensitive or included.
  std::vector<std::string> exclude;
  // Read-only opens of paths that are not sensitive are not reported.
  bool writes_only = true;

  static std::vector<std::string> DefaultSensitivePaths();
};

// The check the file programs make before the sensitive-prefix trie
// (vigil_abi.h, vigil_head_hash): the heads of `prefixes`, which the loader
// writes into the program's read-only data.
struct SensitiveHeads {
  uint32_t len = 0;
  std::array<uint64_t, 2> mask{};
  std::array<uint64_t, VIGIL_HEAD_BITS / 64> bits{};

  static SensitiveHeads Of(const std::vector<std::string>& prefixes);
  // The program's test: false when no prefix can match `path`.
  bool MayMatch(std::string_view path) const;
};

// Absolute entries as they are; each relative one once under /root and under
// every home directory of `passwd_path` and of `home_root` that exists.
std::vector<std::string> ExpandHomePaths(const std::vector<std::string>& paths,
                                         const std::string& passwd_path = "/etc/passwd",
                                         const std::string& home_root = "/home");

}  // namespace vigil
