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

const Entry* Find(const std::vector<Entry>& table, uint32_t number) {
  if (number >= table.size() || table[number].name.empty()) return nullptr;
  return &table[number];
}

}  // namespace

const std::vector<uint16_t>& KernelKinds() {
#define VIGIL_X_NUMBER(name, nr) nr,
  static const auto* kinds = new std::vector<uint16_t>{VIGIL_KINDS(VIGIL_X_NUMBER)};
#undef VIGIL_X_NUMBER
  return *kinds;
}

const char* KernelKindName(uint16_t kind) {
  const Entry* e = Find(Kinds(), kind);
  return e ? e->name.c_str() : nullptr;
}

const char* FileOpName(uint32_t op) {
  const Entry* e = Find(FileOps(), op);
  return e ? e->name.c_str() : nullptr;
}

uint16_t FileOpKind(uint32_t op) {
  const Entry* e = Find(FileOps(), op);
  return e ? e->kind : 0;
}

const char* SyscallName(uint32_t nr) {
  const Entry* e = Find(Syscalls(), nr);
  return e ? e->name.c_str() : nullptr;
}

uint16_t SyscallKind(uint32_t nr) {
  const Entry* e = Find(Syscalls(), nr);
  return e ? e->kind : 0;
}

}  // namespace vigil::decode
