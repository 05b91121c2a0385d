// vigil-azure-emulator: the Azure stand-in of azure_emulator.h as a process,
// for end-to-end tests that run vigil-collector as a binary. Faults are set
// through POST /vigil-emulator/control; accepted rows are in --rows_file and
// at GET /vigil-emulator/rows.
#include <signal.h>

#include <fstream>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "azure_emulator.h"
#include "test_pki.h"

ABSL_FLAG(std::string, cert, "", "PEM server certificate for 127.0.0.1 (with --key)");
ABSL_FLAG(std::string, key, "", "PEM server key");
ABSL_FLAG(std::string, pki_dir, "", "without --cert: make a CA (ca.pem) and server certificate here");
ABSL_FLAG(std::string, port_file, "", "write the listening port here once ready");
ABSL_FLAG(std::string, rows_file, "", "append each accepted row as a JSON line");
ABSL_FLAG(bool, keep_rows, true, "keep accepted rows in memory (a load test only counts them: false)");
ABSL_FLAG(std::string, tenant_id, "test-tenant", "tenant in the token path");
ABSL_FLAG(std::string, client_id, "test-client", "accepted client id");
ABSL_FLAG(std::string, client_secret, "", "accepted client secret");
ABSL_FLAG(std::string, client_assertion, "", "accepted federated assertion");
ABSL_FLAG(std::string, dcr_immutable_id, "dcr-00000000000000000000000000000000", "accepted DCR immutable id");
ABSL_FLAG(std::string, dcr_template, "",
          "ARM template (deploy/azure/azuredeploy.json) whose DCR streams and columns are accepted; "
          "default: the two Vigil streams, any columns");
ABSL_FLAG(int, token_lifetime_seconds, 3600, "expires_in of issued tokens");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Local HTTPS stand-in for Microsoft Entra and the Azure Logs Ingestion API.");
  absl::ParseCommandLine(argc, argv);
  vigil::testing::AzureEmulatorOptions options;
  options.cert_file = absl::GetFlag(FLAGS_cert);
  options.key_file = absl::GetFlag(FLAGS_key);
  if (options.cert_file.empty() == absl::GetFlag(FLAGS_pki_dir).empty()) {
    std::cerr << "vigil-azure-emulator: give either --cert and --key or --pki_dir\n";
    return 2;
  }
  if (options.cert_file.empty()) {
    auto pki = vigil::testing::MakeTestPki(absl::GetFlag(FLAGS_pki_dir));
    if (!pki.ok()) {
      std::cerr << "vigil-azure-emulator: " << pki.status() << "\n";
      return 1;
    }
    options.cert_file = pki->server_cert;
    options.key_file = pki->server_key;
  }
  options.rows_file = absl::GetFlag(FLAGS_rows_file);
  options.keep_rows = absl::GetFlag(FLAGS_keep_rows);
  options.tenant_id = absl::GetFlag(FLAGS_tenant_id);
  options.client_id = absl::GetFlag(FLAGS_client_id);
  options.client_secret = absl::GetFlag(FLAGS_client_secret);
  options.client_assertion = absl::GetFlag(FLAGS_client_assertion);
  options.dcr_immutable_id = absl::GetFlag(FLAGS_dcr_immutable_id);
  if (const std::string path = absl::GetFlag(FLAGS_dcr_template); !path.empty()) {
    auto streams = vigil::testing::ReadJsonFile(path);
    auto declared = streams.ok() ? vigil::testing::DcrStreams(*streams) : streams.status();
    if (!declared.ok()) {
      std::cerr << "vigil-azure-emulator: " << declared.status() << "\n";
      return 2;
    }
    options.streams = *std::move(declared);
  }
  options.token_lifetime_seconds = absl::GetFlag(FLAGS_token_lifetime_seconds);

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // before the server's threads start

  auto emulator = vigil::testing::AzureEmulator::Start(options);
  if (!emulator.ok()) {
    std::cerr << "vigil-azure-emulator: " << emulator.status() << "\n";
    return 1;
  }
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << (*emulator)->port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());  // readers never see a partial file
  }
  std::cerr << "vigil-azure-emulator: listening on " << (*emulator)->url() << "\n";
  int sig = 0;
  sigwait(&stop, &sig);
  return 0;
}
