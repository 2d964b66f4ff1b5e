// --manage's actions, taken out of argv in order before CLI11 parses the rest (args.h).
#include <array>

#include "cli/args.h"

namespace umd::cli {

Result<std::vector<Args::ManageOp>> extract_manage_ops(std::vector<std::string>* argl) {
  static const std::array<const char*, 6> kOpts = {"fail", "remove", "add", "re-add", "replace", "with"};
  std::vector<Args::ManageOp> ops;
  std::vector<std::string> rest;
  auto attach_with = [&](const std::string& m) -> Status {
    for (Args::ManageOp& op : ops) {
      if (op.action == "replace" && op.with.empty()) {
        op.with = m;
        return Status::ok();
      }
    }
    return Status(Err::invalid, "--with " + m + " must follow --replace MEMBER");
  };
  auto take = [&](const std::string& opt, const std::string& member) -> Status {
    if (member.empty()) return Status(Err::invalid, "--" + opt + " needs a MEMBER");
    if (opt == "with") return attach_with(member);
    ops.push_back({opt, member, ""});
    return Status::ok();
  };
  const std::vector<std::string>& in = *argl;
  for (size_t i = 0; i < in.size(); i++) {
    const std::string& a = in[i];
    if (a == "--") {  // the rest is positional
      rest.insert(rest.end(), in.begin() + long(i), in.end());
      break;
    }
    std::string opt, inline_value;
    bool has_inline = false;
    for (const char* o : kOpts) {
      const std::string flag = std::string("--") + o;
      if (a == flag) {
        opt = o;
      } else if (a.rfind(flag + "=", 0) == 0) {
        opt = o;
        inline_value = a.substr(flag.size() + 1);
        has_inline = true;
      }
    }
    if (opt.empty()) {
      rest.push_back(a);
      continue;
    }
    if (has_inline) {
      UMD_TRY(take(opt, inline_value));
      continue;
    }
    size_t n = 0;
    while (i + 1 < in.size() && !in[i + 1].empty() && in[i + 1][0] != '-') {
      UMD_TRY(take(opt, in[++i]));
      n++;
    }
    if (n == 0) UMD_TRY(take(opt, ""));
  }
  *argl = std::move(rest);
  return ops;
}

}  // namespace umd::cli
