// WriteIntent: what the running array asks of a write-intent bitmap, whichever kind
// (the kernel's bitmap_operations). Implemented by ClassicBitmap (md's bitmap, version 4,
// kept on the members or in a file) and LocklessBitmap (md-llbitmap, version 6).
//
// SPACE. Positions are in the array's sync space (Personality::sync_sectors(resync)):
// member sectors for raid1/4/5/6, array sectors for raid10; one bit (or state byte)
// covers one bitmap chunk of that space.
//
// CONTRACT WITH THE ARRAY
//  - start_write(lo, hi, go): before a write to [lo, hi) reaches any member. `go` runs
//    exactly once, after every chunk the range touches is marked on disk on every copy of
//    the bitmap -- at once (inline) when they already are, else later on another thread.
//    No member write of the request may be issued before `go`.
//  - end_write(lo, hi): after the request's last member write completed (ok or not).
//    From then the chunk may be cleared, once quiet for daemon_sleep and only while
//    the array is not degraded, and only after the members were flushed (so the data
//    the bit covered is durable before the bit that covered it goes).
//  - discard(lo, hi): a TRIM (llbitmap: the chunks become "unwritten").
//  - The sync thread: sync_skip() says how many sectors from pos need no visit (their
//    chunks are clean, or never written: lazy recovery); sync_done() says a range is in
//    sync now.
//  - degraded(true) while a slot has no in-sync member: nothing is cleared then (a
//    member coming back with --re-add recovers the chunks still marked).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/status.h"

namespace umd::bitmap {

enum class SyncKind : uint8_t {
  resync,   // after an unclean stop: only marked chunks
  recover,  // onto a re-added member: only marked chunks
  rebuild,  // onto a new member: every written chunk (llbitmap skips unwritten ones)
  check,    // check/repair: every written chunk
};

// What every bitmap kind checks at open against the array it serves.
struct BitmapOptions {
  std::array<uint8_t, 16> uuid{};  // the array's: the bitmap must carry it
  uint64_t sync_sectors = 0;       // the array's sync space: must equal sync_size
  uint64_t events = 0;             // the array's events at assembly
};

// What a bitmap needs of the array it serves.
class BitmapHost {
 public:
  virtual ~BitmapHost() = default;
  virtual uint64_t events() const = 0;   // the array's event count now
  virtual Status flush_members() = 0;    // make completed data writes durable
  // A chunk became need-sync under client I/O (llbitmap: a raid4/5/6 write to a chunk
  // never written, whose parity was never built; or a write while degraded): start a
  // resync of the marked chunks, as the kernel's MD_RECOVERY_NEEDED does. Called on the
  // writer's thread with no bitmap lock held; it must not block.
  virtual void sync_needed() {}
};

class WriteIntent {
 public:
  virtual ~WriteIntent() = default;
  virtual const char* kind() const = 0;  // md's bitmap_type: "bitmap" or "llbitmap"

  virtual void start_write(uint64_t lo, uint64_t hi, std::function<void()> go) = 0;
  virtual void end_write(uint64_t lo, uint64_t hi) = 0;
  virtual void discard(uint64_t lo, uint64_t hi) = 0;

  virtual uint64_t sync_skip(SyncKind kind, uint64_t pos, uint64_t end) = 0;
  virtual void sync_done(SyncKind kind, uint64_t lo, uint64_t hi) = 0;
  // Sectors from pos (before end) that do need a visit, up to the next chunk that does
  // not (so a sync step stops there). Only asked where sync_skip() said 0.
  virtual uint64_t sync_run(SyncKind kind, uint64_t pos, uint64_t end) = 0;
  // Chunks marked now (what a resync after a crash would visit), and the chunk size.
  virtual uint64_t dirty_chunks() const = 0;
  virtual uint64_t chunk_sectors() const = 0;

  virtual void set_degraded(bool degraded) = 0;
  // The array's events moved (md_update_sb): the bitmap's superblock follows, before the
  // members' superblocks are written.
  virtual Status write_super(uint64_t events) = 0;
  // Events when bits were last cleared: a member that left at or after them may come back
  // with --re-add and recover only the marked chunks.
  virtual uint64_t events_cleared() const = 0;
  // Runs the daemon's pass now (tests), as if daemon_sleep had passed for every chunk.
  virtual Status run_daemon_now() = 0;
  // Writes everything pending and stops the threads; the array's last call.
  virtual Status stop() = 0;

  // Attributes under bitmap/ (classic) or llbitmap/ (and bitmap_type), md's names.
  virtual std::vector<std::string> attr_names() const = 0;
  virtual Result<std::string> attr(const std::string& name) const = 0;
  virtual Status set_attr(const std::string& name, const std::string& value) = 0;
};

// set_attr's answer for a name that is not writable: "read-only" when it is one of
// `names`, else not found.
inline Status refuse_attr(const std::vector<std::string>& names, const std::string& name) {
  for (const std::string& n : names) {
    if (n == name) return Status(Err::invalid, name + " is read-only");
  }
  return Status(Err::not_found, "no attribute " + name);
}

}  // namespace umd::bitmap
