// What the azure-logs forwarder takes from Entra's token endpoint and the
// Logs Ingestion API's answers (or a proxy's in their place): the token and
// its lifetime, Retry-After, and error bodies on their way into logs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "collector/azure/http_client.h"
#include "collector/azure/token_source.h"
#include "status_matchers.h"

namespace vigil::collector {
namespace {

using test::IsOk;
using test::StatusIs;

constexpr char kUrl[] = "https://login.example/tenant/oauth2/v2.0/token";

TEST(TokenResponse, TokenAndLifetime) {
  auto t = ParseTokenResponse(R"({"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0.eyJh.c2ln"})", kUrl);
  ASSERT_THAT(t.status(), IsOk());
  EXPECT_EQ(t->token, "eyJ0.eyJh.c2ln");
  EXPECT_EQ(t->lifetime, absl::Seconds(3599));
  // Older and sovereign-cloud endpoints send the number as a string.
  t = ParseTokenResponse(R"({"expires_in":"60","access_token":"abc"})", kUrl);
  ASSERT_THAT(t.status(), IsOk());
  EXPECT_EQ(t->lifetime, absl::Seconds(60));
}

// An endpoint claiming years (or INT64_MAX seconds) would have its token
// used until the API refuses it: a day at most.
TEST(TokenResponse, LifetimeIsCappedAtADay) {
  auto t = ParseTokenResponse(R"({"expires_in":9223372036854775807,"access_token":"abc"})", kUrl);
  ASSERT_THAT(t.status(), IsOk());
  EXPECT_EQ(t->lifetime, kMaxTokenLifetime);
}

// The token goes into an Authorization header as is: a CR LF in it would add
// headers of the endpoint's choosing to every ingestion call.
TEST(TokenResponse, TokenThatIsNotABearerTokenIsRefused) {
  for (const char* body : {R"({"expires_in":60,"access_token":"abc\r\nX-Injected: 1"})",
                           R"({"expires_in":60,"access_token":"a b"})", R"({"expires_in":60,"access_token":""})"}) {
    EXPECT_THAT(ParseTokenResponse(body, kUrl).status(),
                StatusIs(absl::StatusCode::kUnauthenticated, "not a bearer token"))
        << body;
  }
}

TEST(TokenResponse, MissingFieldsAreRefused) {
  EXPECT_THAT(ParseTokenResponse(R"({"expires_in":60})", kUrl).status(),
              StatusIs(absl::StatusCode::kUnauthenticated, "no access_token"));
  EXPECT_THAT(ParseTokenResponse(R"({"access_token":"abc","expires_in":0})", kUrl).status(),
              StatusIs(absl::StatusCode::kUnauthenticated, "no expires_in"));
  EXPECT_THAT(ParseTokenResponse("<html>proxy error</html>", kUrl).status(),
              StatusIs(absl::StatusCode::kUnauthenticated, kUrl));
}

TEST(ResponseHeaders, RetryAfterOfTheLastResponseOnly) {
  HttpResponse r;
  ParseHeaderLine("HTTP/1.1 200 Connection established\r\n", r);
  ParseHeaderLine("Retry-After: 99\r\n", r);
  ParseHeaderLine("HTTP/1.1 429 Too Many Requests\r\n", r);
  EXPECT_FALSE(r.retry_after.has_value());  // the proxy's header is not the API's
  ParseHeaderLine("retry-after:  17 \r\n", r);
  EXPECT_EQ(r.retry_after, absl::Seconds(17));
  ParseHeaderLine("Retry-After: Wed, 21 Oct 2026 07:28:00 GMT\r\n", r);  // the date form: not used by the API
  EXPECT_EQ(r.retry_after, absl::Seconds(17));
  ParseHeaderLine("Retry-After: -5\r\n", r);
  EXPECT_EQ(r.retry_after, absl::Seconds(17));
}

// Error bodies end up in log lines and errors: no line may be forged, no log
// flooded.
TEST(ErrorBody, EscapedAndCut) {
  EXPECT_EQ(PrintableBody("{\"error\":\"x\"}\n\x1b[31mforged"), "{\"error\":\"x\"}\\x0a\\x1b[31mforged");
  const std::string big(5000, 'a');
  const std::string printed = PrintableBody(big, 100);
  EXPECT_EQ(printed, std::string(100, 'a') + "... (5000 bytes)");
}

}  // namespace
}  // namespace vigil::collector
