// Names the calling thread as /proc, top and perf show it (at most 15 characters; longer
// names are cut). Threads are named by what they do, so a per-thread profile of the daemon
// (bench/profile.sh) says which thread spends what.
#pragma once

#include <pthread.h>

#include <string>

namespace umd {

inline void name_this_thread(const char* name) {
  std::string n(name);
  if (n.size() > 15) n.resize(15);
  (void)::pthread_setname_np(::pthread_self(), n.c_str());
}

}  // namespace umd
