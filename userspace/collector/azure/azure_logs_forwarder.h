#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "collector/azure/config.h"
#include "collector/forwarder.h"
#include "metrics/registry.h"

namespace vigil::collector {

// The azure-logs forwarder: events as rows of a custom Log Analytics table,
// through the Azure Monitor Logs Ingestion API
// (https://learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview).
// Fails with InvalidArgument for a bad config, or when the dead-letter
// directory cannot be created. With `metrics` (which must outlive the
// forwarder) it counts its calls by HTTP status.
absl::StatusOr<std::unique_ptr<Forwarder>> MakeAzureLogsForwarder(const AzureLogsConfig& config,
                                                                  metrics::Registry* metrics = nullptr);

}  // namespace vigil::collector
