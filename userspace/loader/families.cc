#include "loader/families.h"

namespace vigil {

std::vector<FamilySpec> BuiltinFamilies() { return {ProcessFamily(), NetworkFamily(), SecurityFamily()}; }
std::vector<FamilySpec> BuiltinFamilies(const LoaderConfig& config) {
  std::vector<FamilySpec> families = {ProcessFamily()};
  families.push_back(SecurityFamily(config));
  return families;
std::vector<FamilySpec> BuiltinFamilies() {
  return {ProcessFamily(),
          FileFamily()};
}

}  // namespace vigil
