// vigilctl: live events, status, detection rules and preflight checks for a
// Vigil sensor.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "cli/client.h"
#include "cli/format.h"
#include "cli/preflight.h"
#include "cli/rules_check.h"
#include "common/version.h"
#include "google/protobuf/util/json_util.h"

namespace {

bool ColorFor(const std::string& mode, FILE* f) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* term = std::getenv("TERM");
  return isatty(fileno(f)) && std::getenv("NO_COLOR") == nullptr && term != nullptr && std::strcmp(term, "dumb") != 0;
}

vigil::cli::Output OutputFor(const std::string& o) {
  return o == "json" ? vigil::cli::Output::kJson : vigil::cli::Output::kText;
}

std::string EnvOr(const char* a, const char* b) {
  for (const char* name : {a, b}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigilctl: live events, status and preflight checks for the Vigil sensor on this node"};
  app.require_subcommand(1);
  app.set_version_flag("--version", vigil::VersionString("vigilctl"));
  std::string socket = "/run/vigil/sensor.sock";
  app.add_option("--socket", socket, "the sensor's local API socket (--api-socket of vigil-sensor)")
      ->capture_default_str();
  std::string color = "auto";
  app.add_option("--color", color, "colour output: auto (on a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();

  // ---- tail
  CLI::App* tail = app.add_subcommand("tail", "print live events, filtered in the sensor");
  std::string tail_output = "compact";
  tail->add_option("-o,--output", tail_output, "compact (one aligned line per event) or json (one object per line)")
      ->check(CLI::IsMember({"compact", "json"}))
      ->capture_default_str();
  std::vector<std::string> kinds, namespaces, pods, containers;
  std::vector<uint32_t> pids;
  std::string process;
  bool host_only = false, containers_only = false, no_reconnect = false;
  uint64_t count = 0;
  uint32_t queue = 0;
  tail->add_option("-k,--kind", kinds, "event kinds: " + absl::StrJoin(vigil::cli::KindShortNames(), ", "))
      ->delimiter(',');
  tail->add_option("-n,--namespace", namespaces, "pod namespace (exact)")->delimiter(',');
  tail->add_option("-p,--pod", pods, "pod name (shell glob, e.g. 'web-*')")->delimiter(',');
  tail->add_option("-c,--container", containers, "container id prefix or container name")->delimiter(',');
  tail->add_option("--pid", pids, "process id")->delimiter(',');
  tail->add_option("--process", process, "RE2 regex, partial match on the process name or executable path");
  auto* host_flag = tail->add_flag("--host-only", host_only, "only processes outside containers");
  tail->add_flag("--containers-only", containers_only, "only processes in containers")->excludes(host_flag);
  tail->add_option("--count", count, "exit after this many events (0: never)");
  tail->add_option("--queue", queue, "events the sensor buffers for this tail when it is slow (0: its default)");
  tail->add_flag("--no-reconnect", no_reconnect, "exit when the sensor is not there or stops, instead of waiting");

  // ---- status
  CLI::App* status = app.add_subcommand("status", "version, probes and hooks, counters, subscribers, components");
  std::string status_output = "text";
  status->add_option("-o,--output", status_output, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  // ---- rules
  CLI::App* rules = app.add_subcommand("rules", "detection rules: what the sensor has loaded, or check files");
  rules->require_subcommand(1);
  CLI::App* rules_list = rules->add_subcommand("list", "the rules the running sensor has loaded, with counters");
  std::string rules_output = "table";
  rules_list->add_option("-o,--output", rules_output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  CLI::App* rules_check =
      rules->add_subcommand("check", "compile Sigma rule files as the sensor would (no sensor needed)");
  std::vector<std::string> check_paths;
  std::string lists_dir;
  rules_check->add_option("paths", check_paths, "rule files and directories (every *.yml/*.yaml below)")->required();
  rules_check->add_option("--lists-dir", lists_dir, "value lists for |expand placeholders (--rules-lists-dir)");

  // ---- preflight
  CLI::App* preflight = app.add_subcommand("preflight", "check whether this node can run the sensor");
  vigil::cli::PreflightOptions pf;
  pf.proxy = EnvOr("HTTPS_PROXY", "https_proxy");
  std::string preflight_output = "table";
  bool no_azure = false;
  double timeout_s = 3;
  preflight->add_option("-o,--output", preflight_output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  preflight->add_option("--collector", pf.collector, "vigil-collector host:port, checked with gRPC health");
  preflight->add_flag("--collector-tls", pf.collector_tls, "TLS to the collector with the system's roots");
  preflight->add_option("--collector-ca", pf.collector_ca, "PEM CA bundle for the collector's certificate (TLS)")
      ->check(CLI::ExistingFile);
  preflight->add_option("--collector-cert", pf.collector_cert, "PEM client certificate for mTLS")
      ->check(CLI::ExistingFile);
  preflight->add_option("--collector-key", pf.collector_key, "PEM client key for mTLS")->check(CLI::ExistingFile);
  preflight->add_option("--azure-login-endpoint", pf.azure_login_endpoint, "Entra ID token endpoint")
      ->capture_default_str();
  preflight->add_option("--azure-ingestion-endpoint", pf.azure_ingestion_endpoint,
                        "Logs Ingestion data collection endpoint URL");
  preflight->add_flag("--no-azure", no_azure, "skip the Azure endpoint checks (collector forwards elsewhere)");
  preflight->add_option("--proxy", pf.proxy, "HTTP proxy the sensor's HTTPS goes through (default: $HTTPS_PROXY)");
  preflight->add_option("--kernel-btf", pf.kernel_btf, "BTF file the sensor will be given (default: the kernel's)");
  preflight->add_option("--timeout", timeout_s, "seconds per network check")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a usage error exits 2, as the daemons' do.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (tail->parsed()) {
    vigil::cli::TailOptions t;
    t.socket = socket;
    for (const std::string& k : kinds) {
      auto kind = vigil::cli::ParseKind(k);
      if (!kind.ok()) {
        std::fprintf(stderr, "vigilctl: %s\n", std::string(kind.status().message()).c_str());
        return 2;
      }
      t.filter.add_kinds(*kind);
    }
    for (const auto& v : namespaces) t.filter.add_namespaces(v);
    for (const auto& v : pods) t.filter.add_pods(v);
    for (const auto& v : containers) t.filter.add_containers(v);
    for (uint32_t v : pids) t.filter.add_pids(v);
    t.filter.set_process(process);
    if (host_only) t.filter.set_scope(vigil::v1::SCOPE_HOST);
    if (containers_only) t.filter.set_scope(vigil::v1::SCOPE_CONTAINERS);
    t.output = tail_output == "json" ? vigil::cli::Output::kJson : vigil::cli::Output::kText;
    t.color = t.output == vigil::cli::Output::kText && ColorFor(color, stdout);
    t.reconnect = !no_reconnect;
    t.count = count;
    t.queue_capacity = queue;
    return vigil::cli::RunTail(t, stdout, stderr);
  }
  if (status->parsed()) {
    return vigil::cli::RunStatus({.socket = socket, .output = OutputFor(status_output)}, stdout, stderr);
  }
  if (rules_list->parsed()) {
    return vigil::cli::RunRulesList({.socket = socket, .output = OutputFor(rules_output)}, stdout, stderr);
  }
  if (rules_check->parsed()) return vigil::cli::RunRulesCheck(check_paths, lists_dir, stdout, stderr);
  pf.azure = !no_azure;
  pf.timeout = absl::Seconds(timeout_s);
  const vigil::v1::PreflightReport report = vigil::cli::RunPreflight(pf);
  if (preflight_output == "json") {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;  // every check shows its remedy field, empty or not
    (void)google::protobuf::util::MessageToJsonString(report, &json, options);
    std::printf("%s\n", json.c_str());
  } else {
    vigil::cli::PrintPreflightTable(report, stdout, ColorFor(color, stdout));
  }
  return report.result() == vigil::v1::CHECK_RESULT_FAIL ? 1 : 0;
}
