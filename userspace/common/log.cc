#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace vigil {

namespace {

std::shared_ptr<spdlog::sinks::sink> SharedSink() {
  static auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  return sink;
}

}  // namespace

std::shared_ptr<spdlog::logger> Logger(absl::string_view component) {
  std::string name(component);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, SharedSink());
  logger->set_level(spdlog::get_level());
  // Another thread may have registered it meanwhile; keep whichever won.
  try {
    spdlog::register_logger(logger);
  } catch (const spdlog::spdlog_ex&) {
    return spdlog::get(name);
  }
  return logger;
}

bool SetLogLevel(absl::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") return false;
  spdlog::set_level(parsed);  // applies to registered loggers too
  return true;
}

}  // namespace vigil
