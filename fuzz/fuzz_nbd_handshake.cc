// The NBD handshake (fixed newstyle option haggling, frontend/nbd/handshake.h): the
// fuzzer's bytes are the client's whole stream, from its flags on; a stream that ends
// in GO or EXPORT_NAME goes on into the transmission phase.
#include "nbd_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  umd::fuzz::run_nbd_connection({}, std::span<const uint8_t>(data, size));
  return 0;
}
