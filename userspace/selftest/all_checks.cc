// The self-test's list of every family's checks: one line per family.
#include "selftest/all_checks.h"

namespace vigil::selftest {

namespace {

void Append(std::vector<Check>& all, std::vector<Check> family) {
  for (Check& check : family) all.push_back(std::move(check));
}

}  // namespace

std::vector<Check> AllChecks() {
  std::vector<Check> all;
  Append(all, ProcessChecks());
  Append(all, NetworkChecks());
  Append(all, FileChecks());
  Append(all, SecurityChecks());
  return all;
}

}  // namespace vigil::selftest
