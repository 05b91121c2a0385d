#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace vigil::cli {

// `vigilctl rules check`: compiles the files and directories as the sensor
// would, without a sensor. Exit 0 with the number of rules, or 1 with the
// first error as "file:line:column: reason" on `err`.
int RunRulesCheck(const std::vector<std::string>& paths, const std::string& lists_dir, FILE* out, FILE* err);

}  // namespace vigil::cli
