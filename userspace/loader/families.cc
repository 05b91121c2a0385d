#include "loader/families.h"

namespace vigil {

std::vector<FamilySpec> BuiltinFamilies() {
  return {ProcessFamily(),
          FileFamily()};
}

}  // namespace vigil
