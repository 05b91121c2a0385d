// The cheapest program to exec: static, no C library, no dynamic loader,
// exits 0 at once. /bin/true (dynamic) execs at ~500/s at most on the
// 2-core benchmark host, too slow for the 1,600 execs/s of the Sysmon
// methodology; this one reaches it (`bench_workload exec-rate RATE SECONDS
// PATH`), with the same events per exec (fork, exec, exit).
#if defined(__x86_64__)
__attribute__((naked, noreturn)) void _start(void) {
  __asm__ volatile(
      "mov $60, %eax\n"  // exit(0)
      "xor %edi, %edi\n"
      "syscall\n");
}
#elif defined(__aarch64__)
__attribute__((naked, noreturn)) void _start(void) {
  __asm__ volatile(
      "mov x8, #93\n"  // exit(0)
      "mov x0, #0\n"
      "svc #0\n");
}
#else
#error "bench_true: no exit system call for this architecture"
#endif
