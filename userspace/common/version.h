#pragma once

#include <string>

namespace vigil {

// "<program> <version> (commit <id>, BPF ABI <n>)": what `--version` prints on
// every Vigil binary, so an image, a package and a node can be matched to the
// source and to the probes' record layout.
std::string VersionString(const std::string& program);

}  // namespace vigil
