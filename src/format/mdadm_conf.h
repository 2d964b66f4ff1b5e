// mdadm.conf (mdadm.conf(5)): a pure codec for the lines umd reads (DEVICE, ARRAY) and
// the ARRAY lines it prints as mdadm 4.2 prints them (--examine --scan, --detail --scan).
//
// Reading
// - '#' starts a comment to the end of the line. A line that starts with white space
//   continues the previous one. Words are separated by white space; a word may be quoted
//   with " or ' (quotes may change within a word: a"b c"d is `ab cd`).
// - Keywords are case-insensitive and may be shortened to their first three letters or
//   more (DEV, ARR). DEVICE words are paths or globs, or `partitions`/`containers`.
//   ARRAY takes an optional device name first (/dev/md0, /dev/md/NAME, or <ignore>),
//   then tag=value words: uuid, name, super-minor, devices, level, num-devices, spares,
//   metadata, spare-group, auto, bitmap, container, member.
// - Other keywords mdadm knows (MAILADDR, MAILFROM, PROGRAM, CREATE, HOMEHOST,
//   HOMECLUSTER, AUTO, POLICY, PART-POLICY, SYSFS, MONITORDELAY, ENCRYPTION...) are read
//   and ignored.
// - Refused, as one error "FILE:LINE: ...": an unknown keyword, a word on an ARRAY line
//   that is no tag mdadm knows, a uuid that is not 32 hex digits, a super-minor or
//   num-devices that is not a number, a tag given twice, an ARRAY line with no identity
//   (uuid, name, super-minor or devices: mdadm ignores those lines, umd says so), a
//   continuation line with nothing to continue. mdadm warns and goes on for most of
//   these; for a recovery tool a config it cannot follow is a config to fix first.
//
// Writing (Examine.c/super1.c/super0.c brief forms, mdadm 4.2)
//   1.x:  ARRAY /dev/md/NM  metadata=1.2 UUID=xxxxxxxx:...:xxxxxxxx name=HOST:NM
//         with --verbose:  ARRAY /dev/md/NM  level=raid5 metadata=1.2 num-devices=3 UUID=... name=...
//         NM is the name after its first ':' (spaces and tabs -> '_', '/' -> '-'); no
//         name: "ARRAY  metadata=...". name= is quoted only when it holds a space, tab or quote.
//   0.90: ARRAY /dev/mdMINOR UUID=xxxxxxxx:xxxxxxxx:xxxxxxxx:xxxxxxxx
//         with --verbose:  ARRAY /dev/mdMINOR level=raid1 num-devices=2 UUID=...
//   --verbose adds a second line "   devices=A,B,C".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/member_info.h"
#include "util/status.h"

namespace umd {

struct ConfArray {
  int line = 0;                        // where it was read
  std::string devname;                 // "/dev/md0", "/dev/md/data", "<ignore>", or empty
  std::optional<std::string> uuid;     // 32 lowercase hex digits, no punctuation
  std::optional<std::string> name;     // as stored in the superblock ("host:data" or "data")
  std::optional<int> super_minor;
  std::vector<std::string> devices;    // devices=a,b,c
  std::optional<std::string> level;
  std::optional<int> num_devices;
  std::optional<std::string> metadata;
};

struct MdadmConf {
  std::vector<std::string> devices;    // every DEVICE word, in order
  std::vector<ConfArray> arrays;
};

// Parses a config's text; `file` names it in errors.
Result<MdadmConf> parse_mdadm_conf(std::string_view text, const std::string& file);

// "a1b2c3d4:e5f6..." (any punctuation between hex digits, as mdadm's parse_uuid) -> 32
// lowercase hex digits; Err::invalid unless exactly 32 hex digits.
Result<std::string> normalize_uuid(std::string_view text);

// The array a member belongs to, as mdadm --examine --scan prints it (see above);
// `devices` is the --verbose devices= list (empty: no second line). Ends in '\n'.
std::string examine_array_line(const MemberInfo& m, bool verbose, const std::vector<std::string>& devices = {});

// --detail --scan's form: "ARRAY DEV metadata=1.2 name=... UUID=..." ("ARRAY /dev/md0
// metadata=0.90 UUID=..."); DEV is devname_for(name). Ends in '\n'.
std::string detail_array_line(const MemberInfo& m, const std::string& array_name);

// The umd array NAME an ARRAY line's device stands for: /dev/md/X -> X, /dev/mdN -> mdN;
// empty for none.
std::string array_name_of_devname(const std::string& devname);
// And back: mdN -> /dev/mdN, X -> /dev/md/X.
std::string devname_of_array_name(const std::string& name);

// The NAME mdadm would give the array at --assemble --scan: a 0.90 array by its
// preferred minor ("md3"); a 1.x array by its name after the host ("data" for
// "nas:data"), or "md127"-style when it has none (given `fallback`).
std::string mdadm_array_name(const MemberInfo& m, const std::string& fallback);

// mdadm's print_quoted: the word as is, or quoted when it holds a space, tab or quote.
std::string conf_quote(const std::string& word);

}  // namespace umd
