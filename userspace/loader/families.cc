#include "loader/families.h"

namespace vigil {

std::vector<FamilySpec> BuiltinFamilies(const LoaderConfig& config) {
  return {ProcessFamily(), NetworkFamily(), FileFamily(), SecurityFamily(config)};
}

}  // namespace vigil
