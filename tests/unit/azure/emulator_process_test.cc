// vigil-azure-emulator as a process, the way end-to-end tests use it: faults
// set over its control endpoint, accepted rows read from its rows file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collector/azure/azure_logs_forwarder.h"
#include "nlohmann/json.hpp"
#include "status_matchers.h"
#include "support/event_pointers.h"
#include "test_pki.h"

namespace vigil::collector {
namespace {

using vigil::test::IsOk;

TEST(EmulatorProcess, FaultsOverControlEndpointAndRowsInTheRowsFile) {
  std::string dir = vigil::testing::MakeTempDir("vigil-azure-emu-");
  ASSERT_FALSE(dir.empty());
  std::string port_file = dir + "/port";
  std::string rows_file = dir + "/rows.jsonl";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string a1 = "--pki_dir=" + dir, a2 = "--port_file=" + port_file, a3 = "--rows_file=" + rows_file;
    execl(VIGIL_AZURE_EMULATOR_PATH, VIGIL_AZURE_EMULATOR_PATH, a1.c_str(), a2.c_str(), a3.c_str(),
          "--client_secret=pw", static_cast<char*>(nullptr));
    _exit(127);
  }
  int port = 0;
  for (absl::Time until = absl::Now() + absl::Seconds(30); port == 0 && absl::Now() < until;) {
    std::ifstream(port_file) >> port;
    if (port == 0) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_NE(port, 0) << "emulator did not start";

  httplib::SSLClient control("127.0.0.1", port);
  control.set_ca_cert_path((dir + "/ca.pem").c_str());
  control.enable_server_certificate_verification(true);
  auto r = control.Post("/vigil-emulator/control", R"({"fail": {"count": 3, "status": 500}})", "application/json");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 204);

  AzureLogsConfig config;
  config.endpoint = config.authority_host = absl::StrCat("https://127.0.0.1:", port);
  config.dcr_immutable_id = "dcr-00000000000000000000000000000000";
  config.tenant_id = "test-tenant";
  config.client_id = "test-client";
  config.client_secret = "pw";
  config.ca_bundle = dir + "/ca.pem";
  config.dead_letter_dir = dir + "/dead-letter";
  config.initial_backoff = absl::Milliseconds(20);
  config.max_backoff = absl::Milliseconds(100);
  auto forwarder = MakeAzureLogsForwarder(config);
  ASSERT_TRUE(forwarder.ok()) << forwarder.status();
  std::vector<v1::Event> events(4);
  for (size_t i = 0; i < events.size(); ++i) events[i].set_id(absl::StrCat("p-", i));
  ASSERT_THAT((*forwarder)->Send(testing::Pointers(events)), IsOk());

  std::multiset<std::string> ids;
  std::ifstream rows(rows_file);
  for (std::string line; std::getline(rows, line);) ids.insert(nlohmann::json::parse(line)["EventId"]);
  EXPECT_EQ(ids, (std::multiset<std::string>{"p-0", "p-1", "p-2", "p-3"}));
  auto listed = control.Get("/vigil-emulator/rows");
  ASSERT_TRUE(listed);
  EXPECT_EQ(nlohmann::json::parse(listed->body).size(), 4u);

  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil::collector
