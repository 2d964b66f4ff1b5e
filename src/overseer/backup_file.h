// BackupFile: mdadm's reshape backup file, as Grow.c keeps it (reshape_open_backup_file,
// grow_backup, forget_backup) and Grow_restart reads it. The 512-byte md_backup_data
// block (format/backup_super.h) sits at byte 0; part 0's data at sector 8 (devstart),
// part 1's at sector 8 + devstart2, where devstart2 is the size of one part. Data are the
// array's own sectors, in order, as they were before the reshape rewrote them.
//
// Every change is on disk (fsync) before the call returns, so a caller may let the
// reshape past what it saved as soon as save() returns, and a crash at any moment leaves
// a block that describes only data that is whole in the file: save() writes the data,
// syncs, then writes the block and syncs again; forget() clears a part in the block.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "format/backup_super.h"
#include "util/status.h"

namespace umd::overseer {

class BackupFile {
 public:
  // mdadm's reshape_open_backup_file: a new file (O_EXCL; `restart`: O_TRUNC over an old
  // one), blocks + 8 zero sectors, synced. `part_sectors` is one part's size (mdadm's
  // `blocks`). The block names the array by `uuid` (md's set uuid bytes).
  static Result<BackupFile> create(const std::string& path, const std::array<uint8_t, 16>& uuid,
                                   uint64_t part_sectors, bool restart);
  BackupFile(BackupFile&& o) noexcept;
  BackupFile& operator=(BackupFile&& o) noexcept;
  BackupFile(const BackupFile&) = delete;
  ~BackupFile();

  // grow_backup: `data` (whole sectors, at most part_sectors) is the array's
  // [array_start, array_start + data.size() / 512) before the reshape; part 0 or 1.
  Status save(int part, uint64_t array_start, std::span<const uint8_t> data);
  // forget_backup: the part holds nothing the reshape needs any more.
  Status forget(int part);
  // Unlinks the file (the reshape no longer needs it) and closes it.
  Status remove();
  const BackupSuper& super() const { return bsb_; }
  const std::string& path() const { return path_; }

 private:
  BackupFile(std::string path, int fd, BackupSuper bsb) : path_(std::move(path)), fd_(fd), bsb_(bsb) {}
  Status write_super();
  std::string path_;
  int fd_ = -1;
  BackupSuper bsb_;
};

// Grow_restart's reading: the block at byte 0 (Err::corrupt if it is not one) and a
// filled part's data (part 1's at devstart2 past part 0's).
Result<BackupSuper> read_backup_super(const std::string& path);
Result<std::vector<uint8_t>> read_backup_part(const std::string& path, const BackupSuper& bsb, int part);

// What Grow_restart restores from the file at `path` into a reshape in state `st`: its
// block and each filled part's data at its array sector. `needed` is false (and `parts`
// empty) when backup_matches says nothing in it is needed; a file that is not this
// reshape's backup is an error (backup_matches').
struct RestorePlan {
  BackupSuper bsb;
  bool needed = false;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> parts;  // array sector, bytes
};
Result<RestorePlan> plan_restore(const std::string& path, const BackupRestartState& st);

}  // namespace umd::overseer
