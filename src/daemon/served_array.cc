#include "daemon/served_array.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace umd::daemon {

std::pair<unsigned, unsigned> device_numbers(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) return {0, 0};
  return {major(st.st_rdev), minor(st.st_rdev)};
}

}  // namespace umd::daemon
