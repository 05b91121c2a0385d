// The emulator is only a fair stand-in if it refuses what Azure refuses:
// requests built by hand, not by the forwarder.
#include "azure_emulator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "collector/azure/gzip.h"
#include "test_pki.h"

namespace vigil::testing {
namespace {

class AzureEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("vigil-azure-emu-test-");
    auto pki = MakeTestPki(dir_);
    ASSERT_TRUE(pki.ok()) << pki.status();
    AzureEmulatorOptions options;
    options.cert_file = pki->server_cert;
    options.key_file = pki->server_key;
    options.client_secret = "pw";
    // As a DCR declares it: only these columns, of these types.
    options.streams = {
        {"Custom-VigilEvents_CL", {{"TimeGenerated", "datetime"}, {"EventId", "string"}, {"Pid", "int"}}}};
    auto e = AzureEmulator::Start(options);
    ASSERT_TRUE(e.ok()) << e.status();
    emulator_ = *std::move(e);
    client_ = std::make_unique<httplib::SSLClient>("127.0.0.1", emulator_->port());
    client_->set_ca_cert_path(pki->ca_cert.c_str());
    client_->enable_server_certificate_verification(true);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  int TokenStatus(const std::string& form) {
    auto r = client_->Post("/test-tenant/oauth2/v2.0/token", form, "application/x-www-form-urlencoded");
    return r ? r->status : -1;
  }
  std::string Token() {
    auto r = client_->Post("/test-tenant/oauth2/v2.0/token", kGoodForm, "application/x-www-form-urlencoded");
    return r && r->status == 200 ? nlohmann::json::parse(r->body)["access_token"].get<std::string>() : "";
  }
  int Ingest(const std::string& body, const std::string& token, bool gzip = true,
             const std::string& query = "api-version=2023-01-01", const std::string& stream = "Custom-VigilEvents_CL") {
    httplib::Headers headers = {{"Authorization", "Bearer " + token}};
    if (gzip) headers.emplace("Content-Encoding", "gzip");
    auto r = client_->Post(
        ("/dataCollectionRules/dcr-00000000000000000000000000000000/streams/" + stream + "?" + query).c_str(), headers,
        gzip ? *collector::Gzip(body) : body, "application/json");
    return r ? r->status : -1;
  }

  static constexpr char kGoodForm[] =
      "grant_type=client_credentials&client_id=test-client&client_secret=pw"
      "&scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default";
  static constexpr char kRow[] = R"([{"TimeGenerated":"2026-12-01T07:00:00.1234567Z","EventId":"x"}])";
  std::string dir_;
  std::unique_ptr<AzureEmulator> emulator_;
  std::unique_ptr<httplib::SSLClient> client_;
};

TEST_F(AzureEmulatorTest, TokenEndpointChecksGrantClientSecretAndScope) {
  EXPECT_EQ(TokenStatus(kGoodForm), 200);
  EXPECT_EQ(TokenStatus("grant_type=password&client_id=test-client&client_secret=pw"
                        "&scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default"),
            400);
  EXPECT_EQ(TokenStatus("grant_type=client_credentials&client_id=other&client_secret=pw"
                        "&scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default"),
            400);
  EXPECT_EQ(TokenStatus("grant_type=client_credentials&client_id=test-client&client_secret=bad"
                        "&scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default"),
            401);
  EXPECT_EQ(TokenStatus("grant_type=client_credentials&client_id=test-client&client_secret=pw"
                        "&scope=https%3A%2F%2Fmanagement.azure.com%2F.default"),
            400);
}

TEST_F(AzureEmulatorTest, IngestionRefusesWhatAzureRefuses) {
  std::string token = Token();
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(Ingest(kRow, "not-a-token"), 401);
  EXPECT_EQ(Ingest(kRow, token, true, "api-version=2021-11-01-preview"), 400);
  EXPECT_EQ(Ingest(kRow, token, /*gzip=*/false), 400);
  EXPECT_EQ(Ingest(R"({"TimeGenerated":"2026-12-01T07:00:00Z"})", token), 400);  // not an array
  EXPECT_EQ(Ingest(R"([{"EventId":"x"}])", token), 400);                         // no TimeGenerated
  EXPECT_EQ(Ingest(R"([{"TimeGenerated":"yesterday"}])", token), 400);
  std::string big = "[";
  while (big.size() < 1100 * 1024) big += R"({"TimeGenerated":"2026-12-01T07:00:00Z","EventId":"padding"},)";
  big.back() = ']';
  EXPECT_EQ(Ingest(big, token), 413);  // small when gzipped, over 1 MB as JSON
  EXPECT_TRUE(emulator_->Rows().empty());
  EXPECT_EQ(Ingest(kRow, token), 204);
  EXPECT_EQ(emulator_->Rows().size(), 1u);
}

// The real service drops a column its DCR does not declare, and nulls a value
// of the wrong type; the emulator refuses both, so a test sees the mismatch.
TEST_F(AzureEmulatorTest, IngestionAcceptsOnlyTheDeclaredStreamsAndColumns) {
  std::string token = Token();
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(Ingest(R"([{"TimeGenerated":"2026-12-01T07:00:00Z","EventId":"x","Comm":"sh"}])", token), 400);
  EXPECT_EQ(Ingest(R"([{"TimeGenerated":"2026-12-01T07:00:00Z","Pid":"42"}])", token), 400);
  EXPECT_EQ(Ingest(R"([{"TimeGenerated":"2026-12-01T07:00:00Z","Pid":4294967295}])", token), 400);  // over int
  EXPECT_EQ(Ingest(kRow, token, true, "api-version=2023-01-01", "Custom-VigilAlerts_CL"), 400);     // undeclared
  EXPECT_TRUE(emulator_->Rows().empty());
  EXPECT_EQ(Ingest(R"([{"TimeGenerated":"2026-12-01T07:00:00Z","EventId":"y","Pid":42}])", token), 204);
  EXPECT_EQ(emulator_->Rows("Custom-VigilEvents_CL").size(), 1u);
}

}  // namespace
}  // namespace vigil::testing
