// Runs CheckRules on each file given, one at a time, and prints one line per
// file: "loaded <file>" or "refused <file>: <reason>". scripts/sigma-compat.sh
// tallies the output over a SigmaHQ checkout.

#include <cstdio>

#include "rules/sigma_detector.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    auto n = vigil::CheckRules({argv[i]});
    if (n.ok()) {
      std::printf("loaded %s\n", argv[i]);
    } else {
      std::printf("refused %s\n", std::string(n.status().message()).c_str());
    }
  }
  return 0;
}
