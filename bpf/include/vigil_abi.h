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

#define VIGIL_ABI_VERSION 3

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
/* Entries of vigil_daemons: Vigil's own processes, whose calls are not reported. */
#define VIGIL_DAEMONS_MAX 64

/*
 * Each family's kinds, one X(NAME, number) per kind, make VIGIL_KIND_<NAME>.
 * The number is also the proto's EVENT_KIND_<NAME> and the lower-case NAME
 * is the kind's name everywhere (decoder, vigilctl, filters, rules):
 * tests/unit/abi_names_test checks both, so a new kind is one line here.
 */
#define VIGIL_X_KIND_ENUM(name, nr) VIGIL_KIND_##name = nr,

#define VIGIL_PROCESS_KINDS(X) \
	X(EXEC, 1)             \
	X(EXIT, 2)             \
	X(FORK, 3)
enum vigil_process_kind {
	VIGIL_PROCESS_KINDS(VIGIL_X_KIND_ENUM)
};

/* Per-kind counters kept per CPU in the `vigil_stats` map. */
#define VIGIL_CNT_SENT 0         /* record written to the ring buffer */
#define VIGIL_CNT_DROP_RINGBUF 1 /* ring buffer full: record lost */
#define VIGIL_CNT_DROP_SCRATCH 2 /* no per-CPU scratch space: record lost */
#define VIGIL_CNT_READ_ERROR 3   /* a field could not be read; record sent with a flag */
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
	__u32 ppid; /* real parent's tgid */
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 _pad0;
	char comm[VIGIL_COMM_LEN];
	/* Lineage inside containers: 0 when the kernel could not tell (e.g. the
	 * task already left its namespaces on exit). Namespace ids are the
	 * nsfs inode numbers that `ls -li /proc/<pid>/ns/` shows. */
	__u32 ns_pid; /* tgid as seen in its own pid namespace */
	__u32 pid_ns;
	__u32 mnt_ns;
	__u32 net_ns;
};

struct vigil_header {
	__u16 abi_version;
	__u16 kind;
	__u32 size;    /* whole record, header included */
	__u64 boot_ns; /* bpf_ktime_get_boot_ns() when the event happened */
	struct vigil_proc proc;
};

/* Both ends of a socket. Addresses in network byte order (IPv4 in the first
 * 4 bytes), ports in host byte order; family is AF_INET (2) or AF_INET6 (10)
 * in every network record (exec's stdio takes any family). */
struct vigil_sock_tuple {
	__u8 local_addr[16];
	__u8 remote_addr[16];
	__u16 local_port;
	__u16 remote_port;
	__u16 family;
	__u16 protocol; /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
};

/* exec flags */
#define VIGIL_EXEC_ARGS_TRUNCATED (1u << 0) /* argv longer than the byte limit */
#define VIGIL_EXEC_ARGS_READ_ERROR (1u << 1)
#define VIGIL_EXEC_FILENAME_TRUNCATED (1u << 2)
#define VIGIL_EXEC_CWD_TRUNCATED (1u << 3) /* deeper than the path walker's bound */

/* vigil_exec.facts: what the kernel knew about the executed file and the new
 * credentials. For a script these describe the interpreter the kernel loaded
 * (bprm->file), not the script. */
#define VIGIL_EXEC_FACT_UPPER_LAYER (1u << 0) /* overlayfs file with an upper-layer copy */
#define VIGIL_EXEC_FACT_MEMFD (1u << 1)       /* a memfd_create() file */
#define VIGIL_EXEC_FACT_DELETED (1u << 2)     /* unlinked: no name left, or its name removed */
#define VIGIL_EXEC_FACT_SETUID (1u << 3)      /* a set-user-ID file changed the euid */
#define VIGIL_EXEC_FACT_SETGID (1u << 4)      /* a set-group-ID file changed the egid */
#define VIGIL_EXEC_FACT_FILE_CAPS (1u << 5)   /* the permitted capabilities grew otherwise */

/* What one of fds 0, 1, 2 is; the numbers are the proto's FdType. */
#define VIGIL_FD_UNKNOWN 0 /* not read */
#define VIGIL_FD_CLOSED 1
#define VIGIL_FD_TTY 2
#define VIGIL_FD_PIPE 3 /* pipe or FIFO */
#define VIGIL_FD_FILE 4 /* regular file */
#define VIGIL_FD_SOCKET 5
#define VIGIL_FD_DEVICE 6 /* another character or block device */
#define VIGIL_FD_OTHER 7

#define VIGIL_STDIO_FDS 3

/* Sockets: tuple.family is the address family (any AF_*); protocol and both
 * ends are filled for AF_INET/AF_INET6 only. Zero for other types. */
struct vigil_stdio {
	struct vigil_sock_tuple tuple;
	__u32 type; /* VIGIL_FD_* */
	__u32 _pad0;
};

/*
 * Followed by args_len bytes of argv (NUL-separated, as in the process's
 * memory), then filename_len bytes of the filename (NUL-terminated), then
 * cwd_len bytes of the absolute cwd at exec, built in the kernel.
 */
struct vigil_exec {
	struct vigil_header hdr;
	__u32 flags;
	__u32 argc;         /* from the kernel's linux_binprm, the true count */
	__u32 args_len;     /* argv bytes that follow */
	__u32 args_total;   /* argv bytes the process really has */
	__u32 filename_len; /* filename bytes that follow, NUL included */
	__u32 cwd_len;      /* cwd bytes after the filename, NUL included; 0 when unknown */
	__u32 facts;        /* VIGIL_EXEC_FACT_UPPER_LAYER .. VIGIL_EXEC_FACT_FILE_CAPS */
	__u32 _pad0;
	struct vigil_stdio stdio[VIGIL_STDIO_FDS]; /* fds 0, 1, 2 of the new program */
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

#define VIGIL_NETWORK_KINDS(X) \
	X(TCP_CONNECT, 16)     \
	X(TCP_ACCEPT, 17)      \
	X(LISTEN, 18)          \
	X(BIND, 19)            \
	X(TCP_CLOSE, 20)       \
	X(DNS_QUERY, 21)       \
	X(DNS_RESPONSE, 22)
enum vigil_network_kind {
	VIGIL_NETWORK_KINDS(VIGIL_X_KIND_ENUM)
};

/* DNS message bytes copied per packet; a longer one is flagged truncated. */
#define VIGIL_DNS_MAX 1024
/* Messages of one sendmmsg() looked at (glibc's resolver sends A + AAAA). */
#define VIGIL_DNS_MMSG_MAX 4

/* tcp connect results */
#define VIGIL_CONNECT_ESTABLISHED 1
#define VIGIL_CONNECT_REFUSED 2
#define VIGIL_CONNECT_TIMED_OUT 3
#define VIGIL_CONNECT_IN_PROGRESS 4 /* non-blocking connect(); the outcome is another event */
#define VIGIL_CONNECT_FAILED 5      /* another error, in `error` */

/* hdr.proc is the process that called connect(). */
struct vigil_tcp_connect {
	struct vigil_header hdr;
	struct vigil_sock_tuple tuple;
	__u32 result; /* VIGIL_CONNECT_* */
	__s32 error;  /* errno of a failed connect, 0 otherwise */
};

/* hdr.proc is the process that called accept(). */
struct vigil_tcp_accept {
	struct vigil_header hdr;
	struct vigil_sock_tuple tuple;
};

struct vigil_listen {
	struct vigil_header hdr;
	struct vigil_sock_tuple tuple; /* local end only */
	__u32 backlog;
	__s32 error; /* errno, 0 on success */
};

struct vigil_bind {
	struct vigil_header hdr;
	struct vigil_sock_tuple tuple; /* local end only: the port the kernel chose for port 0 */
	__s32 error;                   /* errno, 0 on success */
	__u32 _pad0;
};

/* tcp close flags */
#define VIGIL_CLOSE_INBOUND (1u << 0)  /* accepted here; else connected from here */
#define VIGIL_CLOSE_NO_BYTES (1u << 1) /* this kernel's tcp_sock has no byte counters */

/* hdr.proc is the process that connected or accepted the socket. */
struct vigil_tcp_close {
	struct vigil_header hdr;
	struct vigil_sock_tuple tuple;
	__u64 duration_ns;    /* established -> closed; 0 when not seen established */
	__u64 bytes_sent;     /* payload sent, retransmissions included */
	__u64 bytes_received; /* payload received */
	__u32 flags;          /* VIGIL_CLOSE_* */
	__u32 _pad0;
};

/* One UDP datagram to (query) or from (response) port 53, followed by
 * payload_len bytes of the DNS message. */
struct vigil_dns {
	struct vigil_header hdr;
	struct vigil_sock_tuple tuple;
	__u32 payload_len;   /* bytes that follow, <= VIGIL_DNS_MAX */
	__u32 payload_total; /* bytes the datagram had */
};

/* ---- file family (kinds 32..47) ---- */
/* FILE_OPEN: open for write/create/truncate, or of a sensitive path;
 * FILE_RENAME: path = old, path2 = new. */
#define VIGIL_FILE_KINDS(X) \
	X(FILE_OPEN, 32)    \
	X(FILE_UNLINK, 33)  \
	X(FILE_RENAME, 34)  \
	X(FILE_CHMOD, 35)   \
	X(FILE_CHOWN, 36)   \
	X(FILE_UTIMES, 37)
enum vigil_file_kind {
	VIGIL_FILE_KINDS(VIGIL_X_KIND_ENUM)
};

/*
 * The syscall that did it (names, not numbers: those differ per arch), one
 * X(NAME, number, KIND) each: VIGIL_FILE_OP_<NAME>, reported as lower-case
 * NAME, only ever in a record of VIGIL_KIND_<KIND>.
 */
#define VIGIL_FILE_OPS(X)             \
	X(OPENAT, 1, FILE_OPEN)       \
	X(OPENAT2, 2, FILE_OPEN)      \
	X(OPEN, 3, FILE_OPEN)         \
	X(CREAT, 4, FILE_OPEN)        \
	X(UNLINKAT, 5, FILE_UNLINK)   \
	X(UNLINK, 6, FILE_UNLINK)     \
	X(RMDIR, 7, FILE_UNLINK)      \
	X(RENAMEAT2, 8, FILE_RENAME)  \
	X(RENAMEAT, 9, FILE_RENAME)   \
	X(RENAME, 10, FILE_RENAME)    \
	X(FCHMODAT, 11, FILE_CHMOD)   \
	X(CHMOD, 12, FILE_CHMOD)      \
	X(FCHMOD, 13, FILE_CHMOD)     \
	X(FCHOWNAT, 14, FILE_CHOWN)   \
	X(CHOWN, 15, FILE_CHOWN)      \
	X(LCHOWN, 16, FILE_CHOWN)     \
	X(FCHOWN, 17, FILE_CHOWN)     \
	X(UTIMENSAT, 18, FILE_UTIMES) \
	X(FCHMODAT2, 19, FILE_CHMOD)
#define VIGIL_X_FILE_OP_ENUM(name, nr, kind) VIGIL_FILE_OP_##name = nr,
enum vigil_file_op {
	VIGIL_FILE_OPS(VIGIL_X_FILE_OP_ENUM)
};
#define VIGIL_FILE_OP_MAX 20

/* vigil_file.vflags */
#define VIGIL_FILE_SENSITIVE (1u << 0)      /* path matched a sensitive prefix */
#define VIGIL_FILE_PATH_TRUNCATED (1u << 1) /* path cut at VIGIL_PATH_MAX or the walker's depth */
#define VIGIL_FILE_PATH2_TRUNCATED (1u << 2)
#define VIGIL_FILE_READ_ERROR (1u << 3) /* a path could not be read; it is empty */

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
	__s64 result; /* the syscall's return value: fd or 0, or -errno */
	__u32 op;     /* VIGIL_FILE_OP_* */
	__u32 flags;  /* open flags; AT_* / RENAME_* flags of the *at calls */
	__u32 mode;   /* open's create mode, chmod's mode */
	__u32 uid;    /* chown's, or VIGIL_FILE_ID_UNCHANGED */
	__u32 gid;
	__u32 vflags; /* VIGIL_FILE_* */
	__u32 path_len;
	__u32 path2_len;
};

/* Kernel-side filter config, set by the loader (lpm keys of the prefix maps). */
#define VIGIL_PREFIX_MAX 256 /* longest prefix the LPM trie takes (LPM_DATA_SIZE_MAX) */
struct vigil_prefix_key {
	__u32 prefixlen; /* in bits */
	__u8 data[VIGIL_PREFIX_MAX];
};

/*
 * A check in front of the sensitive-prefix trie, whose lookup costs a
 * read-only open more than the rest of its probe: a bitmap of a hash of the
 * head of every sensitive prefix, its first `head_len` bytes (the shortest
 * prefix's length, at most VIGIL_HEAD_MAX). A path shorter than head_len, or
 * whose head's bit is clear, has no sensitive prefix. The head is loaded as
 * two host-order words and masked (the masks keep its first head_len bytes);
 * the loader and the program both hash it here.
 */
#define VIGIL_HEAD_MAX 16
#define VIGIL_HEAD_BITS 4096
static inline __u32 vigil_head_hash(__u64 w0, __u64 w1)
{
	return (__u32)(((w0 ^ (w1 * 0xff51afd7ed558ccdULL)) * 0x9e3779b97f4a7c15ULL) >> 52);
}

/* ---- security syscall family (kinds 48..63) ---- */

/* CLONE_NS: clone/clone3 creating namespaces; KILL: of another process. */
#define VIGIL_SECURITY_KINDS(X) \
	X(PTRACE, 48)           \
	X(SETNS, 49)            \
	X(UNSHARE, 50)          \
	X(CLONE_NS, 51)         \
	X(MOUNT, 52)            \
	X(UMOUNT, 53)           \
	X(MODULE_LOAD, 54)      \
	X(BPF_PROG_LOAD, 55)    \
	X(MEMFD_CREATE, 56)     \
	X(SETID, 57)            \
	X(CAPSET, 58)           \
	X(KILL, 59)
enum vigil_security_kind {
	VIGIL_SECURITY_KINDS(VIGIL_X_KIND_ENUM)
};

/*
 * Which syscall a record is about, numbered here, not by the arch's table:
 * one X(NAME, number, KIND) each, VIGIL_SYS_<NAME>, reported as lower-case
 * NAME, only ever in a record of VIGIL_KIND_<KIND>.
 */
#define VIGIL_SYSCALLS(X)                 \
	X(PTRACE, 1, PTRACE)              \
	X(SETNS, 2, SETNS)                \
	X(UNSHARE, 3, UNSHARE)            \
	X(CLONE, 4, CLONE_NS)             \
	X(CLONE3, 5, CLONE_NS)            \
	X(MOUNT, 6, MOUNT)                \
	X(UMOUNT2, 7, UMOUNT)             \
	X(INIT_MODULE, 8, MODULE_LOAD)    \
	X(FINIT_MODULE, 9, MODULE_LOAD)   \
	X(BPF, 10, BPF_PROG_LOAD)         \
	X(MEMFD_CREATE, 11, MEMFD_CREATE) \
	X(SETUID, 12, SETID)              \
	X(SETGID, 13, SETID)              \
	X(SETREUID, 14, SETID)            \
	X(SETREGID, 15, SETID)            \
	X(SETRESUID, 16, SETID)           \
	X(SETRESGID, 17, SETID)           \
	X(SETGROUPS, 18, SETID)           \
	X(CAPSET, 19, CAPSET)             \
	X(KILL, 20, KILL)                 \
	X(TGKILL, 21, KILL)               \
	X(TKILL, 22, KILL)
#define VIGIL_X_SYS_ENUM(name, nr, kind) VIGIL_SYS_##name = nr,
enum vigil_syscall_nr {
	VIGIL_SYSCALLS(VIGIL_X_SYS_ENUM)
};

/* vigil_syscall.flags */
#define VIGIL_SEC_READ_ERROR (1u << 0)     /* an argument in user memory could not be read */
#define VIGIL_SEC_STR0_TRUNCATED (1u << 1) /* first string field cut at its size */
#define VIGIL_SEC_STR1_TRUNCATED (1u << 2)
#define VIGIL_SEC_STR2_TRUNCATED (1u << 3)

#define VIGIL_SEC_STR_LEN 256   /* names, mount sources, module params: NUL-terminated */
#define VIGIL_SEC_PATH_LEN 1024 /* mount targets */
#define VIGIL_SEC_FSTYPE_LEN 32
#define VIGIL_BPF_NAME_LEN 16 /* BPF_OBJ_NAME_LEN */

/* Follows the header in every record of the family. Strings are copied
 * from user memory at syscall entry; the result comes from its exit. */
struct vigil_syscall {
	__s64 result; /* the syscall's return value: >= 0 success, -errno failure */
	__u32 nr;     /* VIGIL_SYS_* */
	__u32 flags;  /* VIGIL_SEC_* */
};

struct vigil_ptrace {
	struct vigil_header hdr;
	struct vigil_syscall call;
	__s64 request;    /* PTRACE_* */
	__u32 target_pid; /* as the caller named it (its pid namespace) */
	__u32 _pad0;
};

struct vigil_setns {
	struct vigil_header hdr;
	struct vigil_syscall call;
	__s32 fd;
	__u32 nstype;  /* the argument: CLONE_NEW* or 0 */
	__u32 ns_type; /* CLONE_NEW* of the namespace the fd names; 0 when not a namespace file (pidfd) */
	__u32 ns_inum; /* that namespace's inode number, as in /proc/<pid>/ns/<type> */
};

/* unshare, clone, clone3 (kinds UNSHARE and CLONE_NS). For clone the result is the child's pid. */
struct vigil_ns_flags {
	struct vigil_header hdr;
	struct vigil_syscall call;
	__u64 flags;
};

/* mount and umount2 (kinds MOUNT and UMOUNT: umount has target and flags only).
 * STR0 = source, STR1 = target, STR2 = fstype. */
struct vigil_mount {
	struct vigil_header hdr;
	struct vigil_syscall call;
	__u64 flags;
	char source[VIGIL_SEC_STR_LEN];
	char target[VIGIL_SEC_PATH_LEN];
	char fstype[VIGIL_SEC_FSTYPE_LEN];
};

/* init_module and finit_module. STR0 = name, STR1 = params. */
struct vigil_module_load {
	struct vigil_header hdr;
	struct vigil_syscall call;
	__u64 image_len;              /* init_module: bytes of the module image */
	__s32 fd;                     /* finit_module: the module file; -1 for init_module */
	__u32 load_flags;             /* finit_module flags (MODULE_INIT_*) */
	char name[VIGIL_SEC_STR_LEN]; /* finit_module: the file's name (last path component) */
	char params[VIGIL_SEC_STR_LEN];
};

/* bpf(BPF_PROG_LOAD); the result is the program's fd. STR0 = name. */
struct vigil_bpf_prog_load {
	struct vigil_header hdr;
	struct vigil_syscall call;
	__u32 prog_type;
	__u32 insn_cnt;
	__u32 expected_attach_type;
	__u32 prog_flags;
	char name[VIGIL_BPF_NAME_LEN];
};

/* STR0 = name */
struct vigil_memfd_create {
	struct vigil_header hdr;
	struct vigil_syscall call;
	__u32 flags;
	__u32 _pad0;
	char name[VIGIL_SEC_STR_LEN];
};

struct vigil_ids {
	__u32 uid;
	__u32 euid;
	__u32 suid;
	__u32 fsuid;
	__u32 gid;
	__u32 egid;
	__u32 sgid;
	__u32 fsgid;
};

struct vigil_caps {
	__u64 effective;
	__u64 permitted;
	__u64 inheritable;
};

/* setuid .. setresgid, setgroups (kind SETID) and capset (kind CAPSET):
 * the caller's credentials before (entry) and after (exit) the call. */
struct vigil_cred_change {
	struct vigil_header hdr;
	struct vigil_syscall call;
	__u32 args[3]; /* the ids asked for (setgroups: the group count; capset: the target pid) */
	__u32 _pad0;
	struct vigil_ids old_ids;
	struct vigil_ids new_ids;
	struct vigil_caps old_caps;
	struct vigil_caps new_caps;
};

struct vigil_kill {
	struct vigil_header hdr;
	struct vigil_syscall call;
	__s32 pid; /* kill: pid argument (<= 0 is a process group); tgkill: tgid; tkill: 0 */
	__s32 tid; /* tgkill, tkill: the thread; kill: 0 */
	__s32 sig;
	__u32 _pad0;
};

/* Per-CPU room to build the largest record: exec with full argv, filename and cwd.
 * The loader creates the scratch map with this value size. */
#define VIGIL_SCRATCH_SIZE (sizeof(struct vigil_exec) + VIGIL_ARGS_MAX + 2 * VIGIL_PATH_MAX)

/* Every kernel kind, all families. */
#define VIGIL_KINDS(X) VIGIL_PROCESS_KINDS(X) VIGIL_NETWORK_KINDS(X) VIGIL_FILE_KINDS(X) VIGIL_SECURITY_KINDS(X)

#endif /* VIGIL_ABI_H */
