#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "container/runtime_clients.h"
#include "vigil/v1/preflight.pb.h"

namespace vigil::cli {

using vigil::RuntimeSocket;

struct PreflightOptions {
  std::string kernel_btf;  // empty: /sys/kernel/btf/vmlinux
  std::vector<RuntimeSocket> runtime_sockets = StandardRuntimeSockets();
  std::string collector;  // host:port of vigil-collector; empty: not checked
  // TLS to the collector, as in production (mTLS): on when any is set. PEM
  // files; no CA file means the system's roots.
  bool collector_tls = false;
  std::string collector_ca;
  std::string collector_cert;  // client certificate, with collector_key
  std::string collector_key;
  bool azure = true;  // check the Azure endpoints
  std::string azure_login_endpoint = "https://login.microsoftonline.com";
  std::string azure_ingestion_endpoint;       // the Data Collection Endpoint URL; empty: not checked
  std::string proxy;                          // http://host:port the sensor's HTTPS goes through; empty: direct
  absl::Duration timeout = absl::Seconds(3);  // per network check
};

// Checks this node as the sensor will use it. Loads and attaches tiny real
// programs to learn which hooks the kernel allows; never changes the node
// (no mounts, no limits raised).
v1::PreflightReport RunPreflight(const PreflightOptions& options);

// CHECK / RESULT / DETAIL, with the remedy under every WARN and FAIL.
void PrintPreflightTable(const v1::PreflightReport& report, FILE* out, bool color);

}  // namespace vigil::cli
