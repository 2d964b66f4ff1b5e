// Bytes read from outside (a superblock's array name, a bitmap's cluster name, a path)
// made safe to print: nlohmann::json throws on a string that is not UTF-8, and a
// terminal takes control bytes as commands.
#pragma once

#include <string>
#include <string_view>

namespace umd {

// Valid UTF-8 passes through unchanged; every byte that does not start a well-formed
// sequence (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), and
// every ASCII control byte (below 0x20, and 0x7f), becomes "\xNN" with two lowercase hex
// digits, as `cat -v`-style tools and mdadm's own escapes spell a byte. A backslash is
// printed as it is (mdadm prints names raw), so "\x41" in a name reads back ambiguously;
// the output is for people and JSON readers, never parsed back.
std::string printable(std::string_view raw);

}  // namespace umd
