#pragma once

#include <ostream>
#include <vector>

#include "selftest/check.h"
#include "sensor/config.h"

namespace vigil::selftest {

// `vigil-sensor --self_test`: starts the sensor with `config`, runs `checks`
// against its event stream and writes one line per probe to `out`:
//
//   VIGIL-SELFTEST probe=exec family=process hook=tp_btf program=vigil_exec_btf insns=1234 ms=12 result=pass
//   VIGIL-SELFTEST probe=... result=fail reason="..."         (attached, check failed)
//   VIGIL-SELFTEST probe=... result=unavailable reason="..."  (could not attach here)
//
// then `VIGIL-SELFTEST-SUMMARY kernel=<release> hooks=<mode> probes=N pass=N
// fail=N unavailable=N result=pass|fail`. Returns the process exit code:
// non-zero when a probe that attached failed its check (or has none), or the
// sensor could not start.
int RunSelfTest(const SensorConfig& config, const std::vector<Check>& checks, std::ostream& out);

}  // namespace vigil::selftest
