#include "test_pki.h"

#include <stdlib.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace vigil::testing {

std::string MakeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/", prefix, "XXXXXX");
  char* made = mkdtemp(templ.data());
  return made != nullptr ? std::string(made) : std::string();
}

absl::StatusOr<TestPki> MakeTestPki(const std::string& dir) {
  TestPki pki{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key"};
  std::ofstream(dir + "/san.ext") << "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n";
  std::string cmd = absl::StrCat(
      "cd '", dir, "' && ",
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=vigil-test-ca && ",
      "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 && ",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 ",
      "-extfile san.ext");
  std::string quiet = absl::StrCat("(", cmd, ") >'", dir, "/openssl.log' 2>&1");
  if (std::system(quiet.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("openssl failed, see ", dir, "/openssl.log"));
  }
  return pki;
}

}  // namespace vigil::testing
