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
struct vigil_stdio vigil_layout_stdio;
struct vigil_exit vigil_layout_exit;
struct vigil_fork vigil_layout_fork;
struct vigil_stats vigil_layout_stats;
struct vigil_syscall vigil_layout_syscall;
struct vigil_ptrace vigil_layout_ptrace;
struct vigil_setns vigil_layout_setns;
struct vigil_ns_flags vigil_layout_ns_flags;
struct vigil_mount vigil_layout_mount;
struct vigil_module_load vigil_layout_module_load;
struct vigil_bpf_prog_load vigil_layout_bpf_prog_load;
struct vigil_memfd_create vigil_layout_memfd_create;
struct vigil_ids vigil_layout_ids;
struct vigil_caps vigil_layout_caps;
struct vigil_cred_change vigil_layout_cred_change;
struct vigil_kill vigil_layout_kill;
struct vigil_sock_tuple vigil_layout_sock_tuple;
struct vigil_tcp_connect vigil_layout_tcp_connect;
struct vigil_tcp_accept vigil_layout_tcp_accept;
struct vigil_listen vigil_layout_listen;
struct vigil_bind vigil_layout_bind;
struct vigil_tcp_close vigil_layout_tcp_close;
struct vigil_dns vigil_layout_dns;
struct vigil_file vigil_layout_file;
struct vigil_prefix_key vigil_layout_prefix_key;
