#pragma once

// The probe families built into this sensor, one file each (family_*.cc).

#include <vector>

#include "loader/probe_set.h"

namespace vigil {

FamilySpec ProcessFamily();
FamilySpec NetworkFamily();
FamilySpec FileFamily();
FamilySpec SecurityFamily(const LoaderConfig& config);

std::vector<FamilySpec> BuiltinFamilies(const LoaderConfig& config = {});

}  // namespace vigil
