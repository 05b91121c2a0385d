#include "loader/families.h"

namespace vigil {

std::vector<FamilySpec> BuiltinFamilies() {
  std::vector<FamilySpec> families = {ProcessFamily()};
  families.push_back(SecurityFamily());
  return families;
}

}  // namespace vigil
