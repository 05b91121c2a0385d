#include "sensor/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <ostream>
#include <string>

#include "status_matchers.h"
#include "vigil_abi.h"

namespace vigil {
namespace {

using test::IsOk;
using test::StatusIs;

SensorConfig Valid() {
  SensorConfig c;
  c.node_name = "node-a";
  return c;
}

uint32_t Page() { return static_cast<uint32_t>(sysconf(_SC_PAGESIZE)); }

TEST(ConfigValidate, DefaultIsValidOnceNodeIsSet) {
  EXPECT_THAT(Validate(Valid()), IsOk());
  EXPECT_THAT(Validate(SensorConfig{}), StatusIs(absl::StatusCode::kInvalidArgument, "node name is empty"));
}

TEST(ConfigValidate, BoundariesAreAccepted) {
  SensorConfig c = Valid();
  c.loader.ring_buffer_bytes = Page();
  c.loader.max_arg_bytes = 1;
  c.max_args = 1;
  c.queue_capacity = 1;
  c.process_cache_size = 16;
  c.exit_grace = absl::ZeroDuration();
  c.health_interval = absl::Seconds(1);
  c.loader.wakeup_interval = absl::Milliseconds(1);
  EXPECT_THAT(Validate(c), IsOk());
  c.loader.wakeup_interval = absl::Seconds(1);
  c.loader.max_arg_bytes = VIGIL_ARGS_MAX;
  c.loader.ring_buffer_bytes = 1u << 31;
  EXPECT_THAT(Validate(c), IsOk());
}

struct BadSetting {
  std::string name;
  std::function<void(SensorConfig&)> edit;
  std::string message_part;
};

void PrintTo(const BadSetting& p, std::ostream* os) { *os << p.name; }

std::vector<BadSetting> BadSettings() {
  return {
      {"RingNotPowerOfTwo", [](SensorConfig& c) { c.loader.ring_buffer_bytes = 3 * Page(); },
       "ring buffer size " + std::to_string(3 * Page()) + " must be a power of two"},
      {"RingBelowPage", [](SensorConfig& c) { c.loader.ring_buffer_bytes = Page() / 2; },
       "ring buffer size " + std::to_string(Page() / 2) + " must be a power of two and at least the page size"},
      {"RingZero", [](SensorConfig& c) { c.loader.ring_buffer_bytes = 0; }, "ring buffer size 0"},
      {"MaxArgBytesZero", [](SensorConfig& c) { c.loader.max_arg_bytes = 0; },
       "max argv bytes 0 must be between 1 and 32768"},
      {"MaxArgBytesAboveAbi", [](SensorConfig& c) { c.loader.max_arg_bytes = VIGIL_ARGS_MAX + 1; },
       "max argv bytes 32769"},
      {"BatchIntervalZero", [](SensorConfig& c) { c.loader.wakeup_interval = absl::ZeroDuration(); },
       "batch interval 0 must be between 1ms and 1s"},
      {"BatchIntervalAboveOneSecond", [](SensorConfig& c) { c.loader.wakeup_interval = absl::Milliseconds(1001); },
       "batch interval 1.001s"},
      {"MaxArgsZero", [](SensorConfig& c) { c.max_args = 0; }, "max args must be at least 1"},
      {"QueueZero", [](SensorConfig& c) { c.queue_capacity = 0; }, "queue capacity"},
      {"CacheTooSmall", [](SensorConfig& c) { c.process_cache_size = 15; }, "process cache size 15"},
      {"NegativeExitGrace", [](SensorConfig& c) { c.exit_grace = -absl::Seconds(1); }, "exit grace"},
      {"HealthIntervalTooShort", [](SensorConfig& c) { c.health_interval = absl::Milliseconds(999); },
       "health interval"},
      {"EmptyNode", [](SensorConfig& c) { c.node_name.clear(); }, "node name is empty"},
      {"EmptyOutput", [](SensorConfig& c) { c.output.clear(); }, "output is empty"},
  };
}

class ConfigRejects : public ::testing::TestWithParam<BadSetting> {};

TEST_P(ConfigRejects, NamingTheSetting) {
  SensorConfig c = Valid();
  GetParam().edit(c);
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument, GetParam().message_part));
}

INSTANTIATE_TEST_SUITE_P(BadSettings, ConfigRejects, ::testing::ValuesIn(BadSettings()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace vigil
