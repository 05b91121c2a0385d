#pragma once

// The probe families built into this sensor, one file each (family_*.cc).

#include <vector>

#include "loader/probe_set.h"

namespace vigil {

FamilySpec ProcessFamily();
FamilySpec SecurityFamily();
FamilySpec NetworkFamily();
FamilySpec SecurityFamily(const LoaderConfig& config);
FamilySpec FileFamily();

std::vector<FamilySpec> BuiltinFamilies(const LoaderConfig& config = {});

}  // namespace vigil
