#pragma once

// Names of the kernel ABI's kinds, syscalls and file operations, derived from
// the X-lists in vigil_abi.h (the one place a new kind is declared): the
// lower-case form of each entry's NAME.

#include <cstdint>
#include <vector>

namespace vigil::decode {

// Every kind the probes can write, in ascending order.
const std::vector<uint16_t>& KernelKinds();
// "exec", "tcp_connect", ...; nullptr for a number the ABI does not declare.
const char* KernelKindName(uint16_t kind);

// "openat", ...; nullptr when unknown. FileOpKind: the only kind a record of
// this operation may have (0 when unknown).
const char* FileOpName(uint32_t op);
uint16_t FileOpKind(uint32_t op);

// "ptrace", ...; nullptr when unknown. SyscallKind: as FileOpKind.
const char* SyscallName(uint32_t nr);
uint16_t SyscallKind(uint32_t nr);

}  // namespace vigil::decode
