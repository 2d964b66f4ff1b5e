// CONTROL PROTOCOL: how `umd --stop/--detail/--status/--manage/--action/--attr/--monitor`
// talk to the daemon that holds a running array.
//
// Transport: a Unix stream socket, RUNDIR/control (runtime_dir.h), mode 0600 in a 0700
// directory, so only the daemon's user may connect.
//
// Framing: one JSON object per line, '\n'-terminated, each way. (JSON text never holds a
// raw newline: dump() escapes it.) A client sends a request and reads exactly one
// response line; it may send further requests on the same connection, answered in order.
// Lines longer than kMaxLine are refused: the daemon answers with an error and closes.
//
// Requests, by "op":
//   {"op":"ping"}    -> {"ok":true,"name":"md0","pid":1234}
//   {"op":"detail"}  -> {"ok":true,"name":"md0","pid":1234,"array":{...},"nbd":[...]}
//                       "array": the array's detail (see daemon/served_array.h);
//                       "nbd": one object per endpoint: {"spec","uri","stats":{...}};
//                       "fuse": the mountpoint of --fuse DIR (absent without).
//   {"op":"stop"}    -> {"ok":true} once the NBD servers have drained and the array has
//                       stopped (members flushed, superblocks clean); then the daemon
//                       removes its sockets and exits. Several stops may wait together.
//   {"op":"fault","member":"/path/d1.img"|1,"action":"vanish"}  -> {"ok":true}
//                       TEST ONLY, and refused ({"ok":false,"error":"fault injection is
//                       off"}) unless the daemon assembled the array with
//                       UMD_TEST_FAULTS=1 (members without a write cache) or
//                       UMD_TEST_FAULTS=cache (each member with a volatile write cache:
//                       a write without FUA is in it only until the member is flushed) in
//                       its environment. "member": the member's path (as in "detail") or
//                       its slot number. "action": "vanish" (every op on the member fails
//                       with ENXIO, as if unplugged), "reappear" (undoes vanish),
//                       "fail-writes" / "fail-reads" (every write / read fails with EIO),
//                       "clear" (drops the fail-* faults). The array notices on its next
//                       I/O to the member.
//                       "power-cut" (any member may be named; it cuts them all): the
//                       machine loses power. In this order: no new op starts on any
//                       member; every member vanishes (so a flush still to come fails and
//                       is never acknowledged to a client); only then every member drops
//                       its unflushed writes (with =cache; flushed and FUA writes stay in
//                       the files); then the daemon ends at once (std::_Exit, status 137:
//                       no reply, no clean stop, no superblock write, no fsync). Vanish
//                       before cut, because a client FLUSH is acknowledged only after every
//                       member's flush succeeded: had one member been cut while a flush
//                       still ran on another, an acknowledged write could be lost
//                       (fault_hooks.h). The client sees the connection close.
//   {"op":"attr"}    -> {"ok":true,"names":["array_state","level",...,"dev-d1.img/state",...]}
//                       every attribute readable now (md's /sys/block/mdX/md/ names).
//   {"op":"attr","attr":"sync_speed_max"}  -> {"ok":true,"value":"200000 (system)"}
//                       the value as sysfs prints it, without the trailing newline.
//   {"op":"attr","attr":"sync_speed_max","value":"5000"}  -> {"ok":true}
//                       sets it, with sysfs's syntax and rules (a read-only or unknown
//                       attribute, or a value it refuses, is an error naming it).
//   {"op":"manage","action":"fail"|"remove"|"add"|"re-add"|"replace","member":M[,"with":M2]}
//                       -> {"ok":true} — mdadm --manage, one action per request. M: a
//                       member's absolute path (the CLI makes paths absolute: the daemon's
//                       cwd differs), its base name ("d1.img") or "dev-d1.img"; "with" only
//                       for replace (M2: the member that takes M's place; empty: a spare).
//                       An error names the member and the reason and changes nothing.
//   {"op":"action","action":"check"|"repair"|"resync"|"recover"|"idle"|"frozen"}
//                       -> {"ok":true} — md's sync_action (the same as setting the
//                       attribute "sync_action").
//   {"op":"grow","bitmap":"none"|"internal"|"/abs/file"}  -> {"ok":true} once the bitmap
//                       is added (or removed) and recorded in the superblocks (mdadm
//                       --grow --bitmap). Nothing else grows yet.
// Responses: {"ok":true, ...fields} or {"ok":false,"error":"one line naming the problem"}.
// An unknown op, a missing op, or a line that is not a JSON object gets an error response.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "util/status.h"

namespace umd::daemon {

using json = nlohmann::json;

inline constexpr size_t kMaxLine = 1 << 20;

// One message as it goes on the wire: compact JSON and '\n'.
std::string encode_message(const json& msg);
// One line (without its '\n') back into a message. Err::invalid unless it is a JSON object.
Result<json> decode_message(std::string_view line);

json ok_response(json fields = json::object());
json error_response(const std::string& message);
// A response as a Result: the response itself when "ok" is true, else Err::invalid with
// the daemon's error text (Err::corrupt when the response is malformed).
Result<json> response_result(const json& response);

// Reads one '\n'-terminated line from fd into *line, keeping bytes past it in *pending.
// Err::retry on timeout; Err::not_found on end of file before a full line; Err::invalid
// for a line over kMaxLine.
Status read_line(int fd, std::string* pending, std::string* line, std::chrono::steady_clock::time_point deadline);
Status write_all(int fd, std::string_view data, std::chrono::steady_clock::time_point deadline);

// Sends one request to the daemon listening on socket_path and waits for its response.
// Err::not_found when nothing listens there; Err::retry on timeout.
Result<json> control_call_socket(const std::string& socket_path, const json& request,
                                 std::chrono::milliseconds timeout);
// The same for the array NAME; a daemon that is not there is Err::not_found
// "md0 is not assembled". A response with "ok":false comes back as an error.
Result<json> control_call(const std::string& name, const json& request, std::chrono::milliseconds timeout);

}  // namespace umd::daemon
