#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace vigil::testing {

// A throw-away CA and a server certificate it signed for 127.0.0.1, made with
// the openssl CLI in `dir`.
struct TestPki {
  std::string ca_cert;
  std::string server_cert;
  std::string server_key;
};

absl::StatusOr<TestPki> MakeTestPki(const std::string& dir);

// A fresh temporary directory under $TMPDIR (or /tmp).
std::string MakeTempDir(const std::string& prefix);

}  // namespace vigil::testing
