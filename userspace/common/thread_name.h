#pragma once

#include <pthread.h>

#include <thread>

namespace vigil {

// Names a thread (at most 15 characters), so that `top -H`, perf and
// /proc/<pid>/task/*/comm tell the daemons' threads apart. Named by its
// creator, it has its name before anyone can look.
inline void NameThread(std::thread& thread, const char* name) { pthread_setname_np(thread.native_handle(), name); }

}  // namespace vigil
