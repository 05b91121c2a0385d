// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Never loaded: names every struct of vigil_abi.h at file scope, so clang's
 * BPF target records its layout in this object's BTF for abi_layout_test.
 * (process.bpf.o carries only the ABI structs it names at file scope.)
 */
#include "vmlinux.h"
#include "vigil_abi.h"

struct vigil_header vigil_layout_header;
struct vigil_proc vigil_layout_proc;
struct vigil_exec vigil_layout_exec;
struct vigil_exit vigil_layout_exit;
struct vigil_fork vigil_layout_fork;
struct vigil_stats vigil_layout_stats;
struct vigil_file vigil_layout_file;
struct vigil_prefix_key vigil_layout_prefix_key;
