// What the Azure endpoints (or a proxy in front of them) send the collector's
// azure-logs forwarder: the token endpoint's JSON, response header lines
// (Retry-After) and error bodies, which end up in logs and errors. The first
// byte picks which; the rest is the input.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_split.h"
#include "collector/azure/http_client.h"
#include "collector/azure/token_source.h"

namespace {

bool Printable(const std::string& text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  switch (input.ConsumeIntegralInRange(0, 2)) {
    case 0: {
      auto token = vigil::collector::ParseTokenResponse(input.ConsumeRemainingBytesAsString(), "https://login/token");
      if (!token.ok()) break;
      // A token goes into a header as is; its refresh must come.
      if (token->token.empty() || !Printable(token->token) || token->token.find(' ') != std::string::npos) {
        __builtin_trap();
      }
      if (token->lifetime <= absl::ZeroDuration() || token->lifetime > vigil::collector::kMaxTokenLifetime) {
        __builtin_trap();
      }
      break;
    }
    case 1: {
      vigil::collector::HttpResponse response;
      const std::string headers = input.ConsumeRemainingBytesAsString();
      for (absl::string_view line : absl::StrSplit(headers, "\r\n")) {
        vigil::collector::ParseHeaderLine(line, response);
      }
      if (response.retry_after.has_value() && *response.retry_after < absl::ZeroDuration()) __builtin_trap();
      break;
    }
    case 2: {
      const size_t max = input.ConsumeIntegralInRange<size_t>(0, 256);
      const std::string body = input.ConsumeRemainingBytesAsString();
      const std::string printed = vigil::collector::PrintableBody(body, max);
      // Escaping makes a byte at most 6 ("\u00NN"); the cut adds its note.
      if (!Printable(printed) || printed.size() > 6 * max + 32) __builtin_trap();
      break;
    }
  }
  return 0;
}
