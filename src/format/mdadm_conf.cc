#include "format/mdadm_conf.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "layout/layout_names.h"

namespace umd {
namespace {

// One logical line: its first physical line's number and its words.
struct ConfLine {
  int line = 0;
  std::vector<std::string> words;
};

bool iequals_prefix(const std::string& word, const char* keyword) {
  const size_t n = word.size();
  if (n < 3 || n > std::char_traits<char>::length(keyword)) return false;
  for (size_t i = 0; i < n; i++) {
    if (std::tolower(static_cast<unsigned char>(word[i])) != std::tolower(static_cast<unsigned char>(keyword[i]))) {
      return false;
    }
  }
  return true;
}

// Splits one physical line into words (quotes honoured, '#' ends it).
Result<std::vector<std::string>> split_words(std::string_view s, const std::string& where) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) i++;
    if (i >= s.size() || s[i] == '#') break;
    std::string w;
    char quote = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (quote) {
        if (c == quote) quote = 0;
        else w += c;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '#') {
        break;
      } else {
        w += c;
      }
      i++;
    }
    if (quote) return Result<std::vector<std::string>>(Err::invalid, where + ": unterminated " + quote + " quote");
    words.push_back(std::move(w));
  }
  return words;
}

Result<int> parse_int(const std::string& v, const std::string& what) {
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0) {
    return Result<int>(Err::invalid, fmt::format("{}: \"{}\" is not a number", what, v));
  }
  return n;
}

Status parse_array(const ConfLine& l, const std::string& file, ConfArray* a) {
  const std::string where = fmt::format("{}:{}", file, l.line);
  a->line = l.line;
  std::vector<std::string> seen;
  for (size_t i = 1; i < l.words.size(); i++) {
    const std::string& w = l.words[i];
    const size_t eq = w.find('=');
    if (eq == std::string::npos) {
      if (i == 1 && (w.rfind("/dev/", 0) == 0 || w == "<ignore>")) {
        a->devname = w;
        continue;
      }
      if (i == 1) {
        return Status(Err::invalid, fmt::format("{}: ARRAY device \"{}\" must be /dev/mdN, /dev/md/NAME or <ignore>",
                                                where, w));
      }
      return Status(Err::invalid, fmt::format("{}: unrecognised word \"{}\" on the ARRAY line", where, w));
    }
    std::string tag = w.substr(0, eq);
    std::transform(tag.begin(), tag.end(), tag.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    const std::string v = w.substr(eq + 1);
    if (std::find(seen.begin(), seen.end(), tag) != seen.end()) {
      return Status(Err::invalid, fmt::format("{}: {}= given twice on the ARRAY line", where, tag));
    }
    seen.push_back(tag);
    const std::string what = fmt::format("{}: {}=", where, tag);
    if (tag == "uuid") {
      auto u = normalize_uuid(v);
      if (!u.is_ok()) return u.status().with_context(what);
      a->uuid = *u;
    } else if (tag == "name") {
      a->name = v;
    } else if (tag == "super-minor") {
      UMD_ASSIGN_OR_RETURN(int n, parse_int(v, what));
      a->super_minor = n;
    } else if (tag == "num-devices") {
      UMD_ASSIGN_OR_RETURN(int n, parse_int(v, what));
      a->num_devices = n;
    } else if (tag == "devices") {
      size_t start = 0;
      while (start <= v.size()) {
        const size_t comma = v.find(',', start);
        std::string d = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!d.empty()) a->devices.push_back(std::move(d));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (tag == "level") {
      a->level = v;
    } else if (tag == "metadata") {
      a->metadata = v;
    } else if (tag == "spares" || tag == "spare-group" || tag == "auto" || tag == "bitmap" || tag == "container" ||
               tag == "member") {
      // read and ignored: umd neither monitors spare groups nor makes device nodes
    } else {
      return Status(Err::invalid, fmt::format("{}: unrecognised word \"{}\" on the ARRAY line", where, w));
    }
  }
  if (!a->uuid && !a->name && !a->super_minor && a->devices.empty() && a->devname != "<ignore>") {
    return Status(Err::invalid, fmt::format("{}: ARRAY line {} has no identity (uuid=, name=, super-minor= or devices=)",
                                            where, a->devname.empty() ? "" : a->devname));
  }
  return Status::ok();
}

// mdadm's print_escape for device names: space and tab -> '_', '/' -> '-'.
std::string escape_devname(const std::string& s) {
  std::string o;
  for (char c : s) o += (c == ' ' || c == '\t') ? '_' : (c == '/' ? '-' : c);
  return o;
}

std::string after_host(const std::string& name) {
  const size_t colon = name.find(':');
  return colon == std::string::npos ? name : name.substr(colon + 1);
}

}  // namespace

Result<std::string> normalize_uuid(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      hex += char(std::tolower(static_cast<unsigned char>(c)));
    } else if (c != ':' && c != '.' && c != ' ' && c != '-') {
      return Result<std::string>(Err::invalid, fmt::format("\"{}\" is not a uuid (bad character '{}')", text, c));
    }
  }
  if (hex.size() != 32) {
    return Result<std::string>(Err::invalid, fmt::format("\"{}\" is not a uuid ({} hex digits, want 32)", text, hex.size()));
  }
  return hex;
}

Result<MdadmConf> parse_mdadm_conf(std::string_view text, const std::string& file) {
  std::vector<ConfLine> lines;
  int n = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t nl = text.find('\n', pos);
    const std::string_view phys = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    n++;
    const std::string where = fmt::format("{}:{}", file, n);
    UMD_ASSIGN_OR_RETURN(auto words, split_words(phys, where));
    if (!words.empty()) {
      const bool continues = !phys.empty() && (phys[0] == ' ' || phys[0] == '\t');
      if (continues) {
        if (lines.empty()) {
          return Result<MdadmConf>(Err::invalid, where + ": a continuation line (it starts with white space) with nothing to continue");
        }
        for (auto& w : words) lines.back().words.push_back(std::move(w));
      } else {
        lines.push_back({n, std::move(words)});
      }
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  static constexpr std::array<const char*, 14> kIgnored = {
      "mailaddr", "mailfrom", "program", "create", "homehost", "homecluster", "auto",
      "policy", "part-policy", "sysfs", "monitordelay", "encryption", "prefix", "bitmap"};
  MdadmConf conf;
  for (const ConfLine& l : lines) {
    const std::string& kw = l.words[0];
    if (iequals_prefix(kw, "device")) {
      for (size_t i = 1; i < l.words.size(); i++) conf.devices.push_back(l.words[i]);
    } else if (iequals_prefix(kw, "array")) {
      ConfArray a;
      UMD_TRY(parse_array(l, file, &a));
      conf.arrays.push_back(std::move(a));
    } else if (std::none_of(kIgnored.begin(), kIgnored.end(), [&](const char* k) { return iequals_prefix(kw, k); })) {
      return Result<MdadmConf>(Err::invalid, fmt::format("{}:{}: unknown keyword \"{}\"", file, l.line, kw));
    }
  }
  return conf;
}

std::string conf_quote(const std::string& word) {
  char first = 0;
  for (char c : word) {
    if (c == '\'' || c == '"') {
      first = c;
      break;
    }
    if (c == ' ' || c == '\t') first = c;  // keep looking: a quote later decides
  }
  if (!first) return word;
  char q = first == '"' ? '\'' : '"';
  std::string o(1, q);
  for (char c : word) {
    if (c == q) {  // close, switch quote kind, reopen
      o += q;
      q = q == '"' ? '\'' : '"';
      o += q;
    }
    o += c;
  }
  o += q;
  return o;
}

std::string examine_array_line(const MemberInfo& m, bool verbose, const std::vector<std::string>& devices) {
  std::string o;
  if (m.metadata_major == 0) {
    o = fmt::format("ARRAY /dev/md{}", m.preferred_minor);
    if (verbose) o += fmt::format(" level={} num-devices={}", layout::level_name(m.level), m.raid_disks);
    o += " UUID=" + format_uuid_mdadm(m.array_uuid, 0);
  } else {
    o = "ARRAY ";
    if (!m.name.empty()) o += "/dev/md/" + escape_devname(after_host(m.name)) + " ";
    if (verbose) o += " level=" + layout::level_name(m.level);
    o += fmt::format(" metadata=1.{} ", m.metadata_minor);
    if (verbose) o += fmt::format("num-devices={} ", m.raid_disks);
    o += "UUID=" + format_uuid_mdadm(m.array_uuid, 1);
    if (!m.name.empty()) o += " name=" + conf_quote(m.name);
  }
  o += "\n";
  if (verbose && !devices.empty()) {
    o += "   devices=";
    for (size_t i = 0; i < devices.size(); i++) o += (i ? "," : "") + devices[i];
    o += "\n";
  }
  return o;
}

std::string detail_array_line(const MemberInfo& m, const std::string& array_name) {
  std::string o = "ARRAY " + devname_of_array_name(array_name);
  if (m.metadata_major == 0) {
    o += " metadata=0.90 UUID=" + format_uuid_mdadm(m.array_uuid, 0);
  } else {
    o += fmt::format(" metadata=1.{}", m.metadata_minor);
    if (!m.name.empty()) o += " name=" + conf_quote(m.name);
    o += " UUID=" + format_uuid_mdadm(m.array_uuid, 1);
  }
  return o + "\n";
}

std::string array_name_of_devname(const std::string& devname) {
  if (devname.rfind("/dev/md/", 0) == 0) return devname.substr(8);
  if (devname.rfind("/dev/md", 0) == 0 && devname.size() > 7 &&
      std::all_of(devname.begin() + 7, devname.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return devname.substr(5);
  }
  return "";
}

std::string devname_of_array_name(const std::string& name) {
  const bool numbered = name.size() > 2 && name.rfind("md", 0) == 0 &&
                        std::all_of(name.begin() + 2, name.end(), [](unsigned char c) { return std::isdigit(c); });
  return numbered ? "/dev/" + name : "/dev/md/" + name;
}

std::string mdadm_array_name(const MemberInfo& m, const std::string& fallback) {
  if (m.metadata_major == 0) return fmt::format("md{}", m.preferred_minor);
  const std::string nm = escape_devname(after_host(m.name));
  return nm.empty() ? fallback : nm;
}

}  // namespace umd
