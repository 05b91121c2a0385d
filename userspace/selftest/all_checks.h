#pragma once

#include <vector>

#include "selftest/check.h"

namespace vigil::selftest {

// Every family's checks, in the order they run (all_checks.cc lists them).
std::vector<Check> AllChecks();

}  // namespace vigil::selftest
