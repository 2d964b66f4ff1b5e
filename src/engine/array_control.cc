// Array's control plane: md's attributes and mdadm --manage. (Being built: issue 4.)
#include "engine/array.h"

namespace umd::engine {

std::vector<std::string> Array::attr_names() const { return {}; }
Result<std::string> Array::attr(const std::string& name) const {
  return Result<std::string>(Err::unsupported, "attribute " + name + " is not implemented yet");
}
Status Array::set_attr(const std::string& name, const std::string&) {
  return Status(Err::unsupported, "attribute " + name + " is not implemented yet");
}
Status Array::fail_member(const std::string&) { return Status(Err::unsupported, "--fail is not implemented yet"); }
Status Array::remove_member(const std::string&) { return Status(Err::unsupported, "--remove is not implemented yet"); }
Status Array::add_member(const std::string&, bool) { return Status(Err::unsupported, "--add is not implemented yet"); }
Status Array::add_member(std::unique_ptr<io::Member>, const std::string&, bool) {
  return Status(Err::unsupported, "--add is not implemented yet");
}
Status Array::replace_member(const std::string&, const std::string&) {
  return Status(Err::unsupported, "--replace is not implemented yet");
}

}  // namespace umd::engine
