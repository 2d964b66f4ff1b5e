// The NBD transmission phase (frontend/nbd/connection.h): a fixed, valid handshake
// (client flags, then EXPORT_NAME "md0"), then the fuzzer's bytes as requests (and
// write payloads) against a 1 MiB RAM export.
#include <array>

#include "nbd_harness.h"

namespace {

constexpr std::array<uint8_t, 23> kHandshake = {
    0, 0, 0, 3,                              // client flags: fixed newstyle, no zeroes
    'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T',  // option magic
    0, 0, 0, 1,                              // NBD_OPT_EXPORT_NAME
    0, 0, 0, 3,                              // length
    'm', 'd', '0'};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  umd::fuzz::run_nbd_connection(kHandshake, std::span<const uint8_t>(data, size));
  return 0;
}
