#include "decode/abi_names.h"

#include <string>

#include "absl/strings/ascii.h"
#include "vigil_abi.h"

namespace vigil::decode {

namespace {

struct Entry {
  std::string name;   // lower case; empty for a number not declared
  uint16_t kind = 0;  // the kind it belongs to (kinds: itself)
};

struct Row {
  uint32_t number;
  const char* upper_name;
  uint16_t kind;
};

// Indexed by number: lookups on the decoding path are one bounds check.
std::vector<Entry> Index(std::initializer_list<Row> rows) {
  std::vector<Entry> table;
  for (const Row& r : rows) {
    if (r.number >= table.size()) table.resize(r.number + 1);
    table[r.number] = Entry{absl::AsciiStrToLower(r.upper_name), r.kind};
  }
  return table;
}

const std::vector<Entry>& Kinds() {
#define VIGIL_X_ROW(name, nr) {nr, #name, nr},
  static const auto* table = new std::vector<Entry>(Index({VIGIL_KINDS(VIGIL_X_ROW)}));
#undef VIGIL_X_ROW
  return *table;
}

const std::vector<Entry>& FileOps() {
#define VIGIL_X_ROW(name, nr, kind) {nr, #name, VIGIL_KIND_##kind},
  static const auto* table = new std::vector<Entry>(Index({VIGIL_FILE_OPS(VIGIL_X_ROW)}));
#undef VIGIL_X_ROW
  return *table;
}

const std::vector<Entry>& Syscalls() {
#define VIGIL_X_ROW(name, nr, kind) {nr, #name, VIGIL_KIND_##kind},
  static const auto* table = new std::vector<Entry>(Index({VIGIL_SYSCALLS(VIGIL_X_ROW)}));
#undef VIGIL_X_ROW
  return *table;
}

// The name and the kind of `number` in `table`: nullptr and 0 when undeclared.
const char* NameIn(const std::vector<Entry>& table, uint32_t number) {
  return number < table.size() && !table[number].name.empty() ? table[number].name.c_str() : nullptr;
}
uint16_t KindIn(const std::vector<Entry>& table, uint32_t number) {
  return NameIn(table, number) != nullptr ? table[number].kind : 0;
}

}  // namespace

const std::vector<uint16_t>& KernelKinds() {
  static const auto* kinds = [] {
    auto* out = new std::vector<uint16_t>;
    for (uint16_t k = 0; k < Kinds().size(); ++k) {
      if (NameIn(Kinds(), k) != nullptr) out->push_back(k);
    }
    return out;
  }();
  return *kinds;
}

const char* KernelKindName(uint16_t kind) { return NameIn(Kinds(), kind); }
const char* FileOpName(uint32_t op) { return NameIn(FileOps(), op); }
uint16_t FileOpKind(uint32_t op) { return KindIn(FileOps(), op); }
const char* SyscallName(uint32_t nr) { return NameIn(Syscalls(), nr); }
uint16_t SyscallKind(uint32_t nr) { return KindIn(Syscalls(), nr); }

}  // namespace vigil::decode
