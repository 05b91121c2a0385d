// A local stand-in for Azure in tests: the Microsoft Entra token endpoint and
// the Azure Monitor Logs Ingestion API, over real HTTPS on 127.0.0.1 (an
// ephemeral port), validating requests as the services document them, with
// faults on request (429 + Retry-After, 5xx, 413, slow answers, dropped
// connections). It keeps every row it accepted so tests can check that each
// event id arrived exactly once.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dcr_template.h"
#include "nlohmann/json.hpp"

namespace vigil::testing {

struct AzureEmulatorOptions {
  std::string cert_file;  // PEM server certificate (for 127.0.0.1) and key
  std::string key_file;
  std::string tenant_id = "test-tenant";
  std::string client_id = "test-client";
  std::string client_secret;     // accepted with grant client_credentials
  std::string client_assertion;  // accepted as a jwt-bearer assertion
  std::string dcr_immutable_id = "dcr-00000000000000000000000000000000";
  // The streams the DCR declares. A stream with columns accepts only rows
  // whose members are declared columns of a fitting type; the real service
  // drops an undeclared column silently, the emulator answers 400 so a test
  // sees the mismatch. Empty columns: any row. See DcrStreams for the
  // declarations of deploy/azure/azuredeploy.json.
  StreamColumns streams = {{"Custom-VigilEvents_CL", {}}, {"Custom-VigilAlerts_CL", {}}};
  int token_lifetime_seconds = 3600;
  size_t max_call_bytes = 1024 * 1024;  // the documented limit, compressed and uncompressed
  std::string rows_file;                // when set, each accepted row is appended as a JSON line
  // Accepted rows are kept for Rows(); a load test that only counts them
  // turns this off (a parsed row takes ~10 times its JSON: millions of
  // them filled this machine's memory).
  bool keep_rows = true;
};

// What one ingestion call looked like, accepted or not.
struct IngestCall {
  int status = 0;
  size_t wire_bytes = 0;  // the body as sent (gzip)
  size_t json_bytes = 0;  // decompressed
  size_t rows = 0;
  std::string stream;
  std::string token;
  absl::Time at;
};

class AzureEmulator {
 public:
  static absl::StatusOr<std::unique_ptr<AzureEmulator>> Start(const AzureEmulatorOptions& options);
  ~AzureEmulator();

  // https://127.0.0.1:<port>: both the authority host and the endpoint.
  std::string url() const;
  int port() const { return port_; }

  // Faults, applied to the next `count` ingestion calls, in the order asked.
  void FailNext(int count, int status, int retry_after_seconds = -1, std::string body = "");
  void DropNext(int count);                        // close the connection mid-answer
  void SlowNext(int count, absl::Duration delay);  // answer only after `delay`
  void ClearFaults();
  // Answer 413 to calls with more than `rows` rows (0: only the byte limit).
  void SetMaxRowsPerCall(size_t rows);
  void SetClientAssertion(std::string assertion);
  // Every token issued so far stops working (401), as after a revocation.
  void RevokeTokens();

  std::vector<nlohmann::json> Rows() const;  // of every stream, in arrival order
  std::vector<nlohmann::json> Rows(const std::string& stream) const;
  std::vector<IngestCall> Calls() const;
  int token_requests() const;
  // Every token request's form, parsed.
  std::vector<httplib::Params> TokenForms() const;

 private:
  struct Fault {
    enum Kind { kStatus, kDrop, kSlow } kind;
    int status = 0;
    int retry_after = -1;
    std::string body;
    absl::Duration delay;
  };

  explicit AzureEmulator(const AzureEmulatorOptions& options);
  void HandleToken(const httplib::Request& req, httplib::Response& res);
  void HandleIngest(const httplib::Request& req, httplib::Response& res);
  void HandleControl(const httplib::Request& req, httplib::Response& res);
  // The status and error text for a call that breaks the documented
  // contract, or 0 when it is valid; fills `rows` with its parsed rows.
  int Check(const httplib::Request& req, IngestCall& call, std::vector<nlohmann::json>& rows, std::string& error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  AzureEmulatorOptions options_;
  httplib::SSLServer server_;
  std::thread thread_;
  int port_ = 0;

  mutable absl::Mutex mu_;
  std::deque<Fault> faults_ ABSL_GUARDED_BY(mu_);
  size_t max_rows_per_call_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, absl::Time> tokens_ ABSL_GUARDED_BY(mu_);  // -> expiry
  std::vector<nlohmann::json> rows_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> row_streams_ ABSL_GUARDED_BY(mu_);  // the stream of each of rows_
  std::vector<IngestCall> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<httplib::Params> token_forms_ ABSL_GUARDED_BY(mu_);
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 0;
  std::FILE* rows_file_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace vigil::testing
