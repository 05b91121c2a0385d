/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Vigil kernel <-> userspace ABI.
 *
 * Every record the probes write to the ring buffer starts with
 * struct vigil_header; `kind` says which struct follows. Only fixed-width
 * types and explicit padding: the same bytes must mean the same thing to
 * clang's BPF target and to the host C++ compiler (tests/unit/abi_layout_test
 * compares both layouts through the BPF object's BTF).
 *
 * Bump VIGIL_ABI_VERSION on any change to a struct below; the loader refuses
 * a BPF object of another version and the decoder rejects its records.
 */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

#ifdef __BPF__
/* vmlinux.h provides __u8 .. __u64 */
#else
#include <linux/types.h>
#endif

#define VIGIL_ABI_VERSION 1

#define VIGIL_COMM_LEN 16
#define VIGIL_PATH_MAX 4096
/* Upper bound of argv bytes copied per exec; the runtime limit (config) is <= this. */
#define VIGIL_ARGS_MAX 32768

/* Event kinds: a range of 16 per probe family, so families grow independently. */
#define VIGIL_KIND_PROCESS_FIRST 0
#define VIGIL_KIND_NETWORK_FIRST 16
#define VIGIL_KIND_FILE_FIRST 32
#define VIGIL_KIND_SECURITY_FIRST 48
#define VIGIL_KIND_MAX 64

#define VIGIL_KIND_EXEC 1
#define VIGIL_KIND_EXIT 2
#define VIGIL_KIND_FORK 3

/* Per-kind counters kept per CPU in the `vigil_stats` map. */
#define VIGIL_CNT_SENT 0          /* record written to the ring buffer */
#define VIGIL_CNT_DROP_RINGBUF 1  /* ring buffer full: record lost */
#define VIGIL_CNT_DROP_SCRATCH 2  /* no per-CPU scratch space: record lost */
#define VIGIL_CNT_READ_ERROR 3    /* a field could not be read; record sent with a flag */
#define VIGIL_CNT_MAX 4

struct vigil_stats {
	__u64 counters[VIGIL_KIND_MAX][VIGIL_CNT_MAX];
};

/* Who did it. Identity of a process is (pid, start_boottime_ns). */
struct vigil_proc {
	__u64 start_boottime_ns;        /* thread-group leader's start, CLOCK_BOOTTIME */
	__u64 parent_start_boottime_ns; /* real parent's leader's start */
	__u64 cgroup_id;                /* cgroup v2 (default hierarchy) id */
	__u32 pid;                      /* tgid */
	__u32 tid;
	__u32 ppid;                     /* real parent's tgid */
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 _pad0;
	char comm[VIGIL_COMM_LEN];
};

struct vigil_header {
	__u16 abi_version;
	__u16 kind;
	__u32 size;      /* whole record, header included */
	__u64 boot_ns;   /* bpf_ktime_get_boot_ns() when the event happened */
	struct vigil_proc proc;
};

/* exec flags */
#define VIGIL_EXEC_ARGS_TRUNCATED     (1u << 0) /* argv longer than the byte limit */
#define VIGIL_EXEC_ARGS_READ_ERROR    (1u << 1)
#define VIGIL_EXEC_FILENAME_TRUNCATED (1u << 2)
#define VIGIL_EXEC_CWD_TRUNCATED      (1u << 3) /* deeper than the path walker's bound */

/*
 * Followed by args_len bytes of argv (NUL-separated, as in the process's
 * memory), then filename_len bytes of the filename (NUL-terminated), then
 * cwd_len bytes of the absolute cwd at exec, built in the kernel.
 */
struct vigil_exec {
	struct vigil_header hdr;
	__u32 flags;
	__u32 argc;          /* from the kernel's linux_binprm, the true count */
	__u32 args_len;      /* argv bytes that follow */
	__u32 args_total;    /* argv bytes the process really has */
	__u32 filename_len;  /* filename bytes that follow, NUL included */
	__u32 cwd_len;       /* cwd bytes after the filename, NUL included; 0 when unknown */
};

/* Last thread of a process exited. */
struct vigil_exit {
	struct vigil_header hdr;
	__u32 exit_code; /* raw wait status: (status << 8) | signal, core flag 0x80 */
	__u32 _pad0;
};

/* A new process (not a thread). hdr.proc is the child; parent_tid forked it. */
struct vigil_fork {
	struct vigil_header hdr;
	__u32 parent_tid;
	__u32 _pad0;
};

/* ---- network family (kinds 16..31) ---- */


/* ---- file family (kinds 32..47) ---- */
#define VIGIL_KIND_FILE_OPEN 32   /* open for write/create/truncate, or of a sensitive path */
#define VIGIL_KIND_FILE_UNLINK 33 /* unlink, rmdir */
#define VIGIL_KIND_FILE_RENAME 34 /* path = old, path2 = new */
#define VIGIL_KIND_FILE_CHMOD 35
#define VIGIL_KIND_FILE_CHOWN 36
#define VIGIL_KIND_FILE_UTIMES 37

/* The syscall that did it (names, not numbers: those differ per arch). */
#define VIGIL_FILE_OP_OPENAT 1
#define VIGIL_FILE_OP_OPENAT2 2
#define VIGIL_FILE_OP_OPEN 3
#define VIGIL_FILE_OP_CREAT 4
#define VIGIL_FILE_OP_UNLINKAT 5
#define VIGIL_FILE_OP_UNLINK 6
#define VIGIL_FILE_OP_RMDIR 7
#define VIGIL_FILE_OP_RENAMEAT2 8
#define VIGIL_FILE_OP_RENAMEAT 9
#define VIGIL_FILE_OP_RENAME 10
#define VIGIL_FILE_OP_FCHMODAT 11
#define VIGIL_FILE_OP_CHMOD 12
#define VIGIL_FILE_OP_FCHMOD 13
#define VIGIL_FILE_OP_FCHOWNAT 14
#define VIGIL_FILE_OP_CHOWN 15
#define VIGIL_FILE_OP_LCHOWN 16
#define VIGIL_FILE_OP_FCHOWN 17
#define VIGIL_FILE_OP_UTIMENSAT 18
#define VIGIL_FILE_OP_FCHMODAT2 19
#define VIGIL_FILE_OP_MAX 20

/* vigil_file.vflags */
#define VIGIL_FILE_SENSITIVE (1u << 0)       /* path matched a sensitive prefix */
#define VIGIL_FILE_PATH_TRUNCATED (1u << 1)  /* path cut at VIGIL_PATH_MAX or the walker's depth */
#define VIGIL_FILE_PATH2_TRUNCATED (1u << 2)
#define VIGIL_FILE_READ_ERROR (1u << 3)      /* a path could not be read; it is empty */

/* uid/gid of chown that the call leaves unchanged ((uid_t)-1). */
#define VIGIL_FILE_ID_UNCHANGED 0xffffffffu

/*
 * One syscall on a file, reported at its exit with the result. Followed by
 * path_len bytes of the absolute path (NUL included) and path2_len bytes of
 * the second path (rename's new name; 0 otherwise). For the fd-only calls
 * (fchmod, fchown, utimensat on an fd) the path is the fd's file.
 */
struct vigil_file {
	struct vigil_header hdr;
	__s64 result;    /* the syscall's return value: fd or 0, or -errno */
	__u32 op;        /* VIGIL_FILE_OP_* */
	__u32 flags;     /* open flags; AT_* / RENAME_* flags of the *at calls */
	__u32 mode;      /* open's create mode, chmod's mode */
	__u32 uid;       /* chown's, or VIGIL_FILE_ID_UNCHANGED */
	__u32 gid;
	__u32 vflags;    /* VIGIL_FILE_* */
	__u32 path_len;
	__u32 path2_len;
};

/* Kernel-side filter config, set by the loader (lpm keys of the prefix maps). */
#define VIGIL_PREFIX_MAX 256 /* longest prefix the LPM trie takes (LPM_DATA_SIZE_MAX) */
struct vigil_prefix_key {
	__u32 prefixlen; /* in bits */
	__u8 data[VIGIL_PREFIX_MAX];
};


/* ---- security syscall family (kinds 48..63) ---- */


/* Per-CPU room to build the largest record: exec with full argv, filename and cwd.
 * The loader creates the scratch map with this value size. */
#define VIGIL_SCRATCH_SIZE (sizeof(struct vigil_exec) + VIGIL_ARGS_MAX + 2 * VIGIL_PATH_MAX)

#endif /* VIGIL_ABI_H */
