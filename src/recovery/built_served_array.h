// A --build array served by the daemon: `umd --assemble NAME --build ...` serves an
// array without superblocks read-only over NBD (and FUSE), so a file system on it can be
// mounted and copied off. Reads go through the personality (degraded reads rebuild what
// a missing member held); writes, trims and write-zeroes are refused (Err::unsupported:
// the daemon serves it read-only); stop() has nothing to write back.
#pragma once

#include <memory>
#include <string>

#include "daemon/served_array.h"
#include "recovery/build.h"

namespace umd::recovery {

Result<std::unique_ptr<daemon::ServedArray>> serve_built_array(const std::string& name, const BuildSpec& spec);

}  // namespace umd::recovery
