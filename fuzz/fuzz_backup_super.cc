// mdadm's reshape backup superblock (format/backup_super.h): decode any bytes; what
// decodes must encode to a block that decodes to the same fields, and encoding is then a
// fixed point. Grow_restart's checks run on it against a state taken from the input's
// tail, so every branch of backup_matches and backup_restored_progress is reached.
#include <cstdint>
#include <cstring>
#include <span>

#include "format/backup_super.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto bsb = umd::decode_backup_super(std::span<const uint8_t>(data, size));
  if (!bsb.is_ok()) {
    FUZZ_CHECK(!bsb.status().message().empty());
    return 0;
  }
  const auto bytes = umd::encode_backup_super(*bsb);
  auto again = umd::decode_backup_super(bytes);
  FUZZ_CHECK(again.is_ok());
  FUZZ_CHECK(*again == *bsb);
  FUZZ_CHECK(umd::encode_backup_super(*again) == bytes);

  umd::BackupRestartState st;
  const uint8_t* tail = data + umd::kBackupSuperBytes;
  const size_t left = size - umd::kBackupSuperBytes;
  if (left >= 16) std::memcpy(st.array_uuid.data(), tail, 16);
  if (left >= 24) std::memcpy(&st.array_utime, tail + 16, 8);
  if (left >= 32) std::memcpy(&st.reshape_progress, tail + 24, 8);
  if (left >= 33) {
    st.increasing = tail[32] & 1;
    st.allow_old = tail[32] & 2;
  }
  (void)umd::backup_matches(*bsb, st);
  (void)umd::backup_restored_progress(*bsb, st.reshape_progress, st.increasing);
  return 0;
}
