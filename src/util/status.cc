#include "util/status.h"

#include <cerrno>
#include <cstring>

namespace umd {

const char* err_name(Err e) {
  switch (e) {
    case Err::ok: return "ok";
    case Err::io: return "I/O error";
    case Err::corrupt: return "corrupt";
    case Err::invalid: return "invalid";
    case Err::unsupported: return "unsupported";
    case Err::retry: return "retry";
    case Err::no_space: return "no space";
    case Err::not_found: return "not found";
    case Err::busy: return "busy";
  }
  return "unknown";
}

Status::Status(Err code, std::string message)
    : rep_(code == Err::ok ? nullptr
                           : std::make_shared<const Rep>(Rep{code, 0, std::move(message)})) {}

Status Status::from_errno(int errnum, const std::string& context) {
  Err code = Err::io;
  switch (errnum) {
    case ENOENT: case ENXIO: case ENODEV: code = Err::not_found; break;
    case EINVAL: case EACCES: case EPERM: case EROFS: code = Err::invalid; break;
    case EOPNOTSUPP: code = Err::unsupported; break;
    case EAGAIN: case EINTR: case ENOMEM: code = Err::retry; break;
    case ENOSPC: case EFBIG: code = Err::no_space; break;
    case EBUSY: code = Err::busy; break;
    default: break;
  }
  Status s;
  s.rep_ = std::make_shared<const Rep>(
      Rep{code, errnum, context + ": " + std::strerror(errnum)});
  return s;
}

const std::string& Status::message() const {
  static const std::string kOk = "ok";
  return rep_ ? rep_->message : kOk;
}

int Status::to_errno() const {
  if (!rep_) return 0;
  if (rep_->errnum) return -rep_->errnum;
  switch (rep_->code) {
    case Err::ok: return 0;
    case Err::io: return -EIO;
    case Err::corrupt: return -EUCLEAN;
    case Err::invalid: return -EINVAL;
    case Err::unsupported: return -EOPNOTSUPP;
    case Err::retry: return -EAGAIN;
    case Err::no_space: return -ENOSPC;
    case Err::not_found: return -ENOENT;
    case Err::busy: return -EBUSY;
  }
  return -EIO;
}

Status Status::with_context(const std::string& context) const {
  if (!rep_) return *this;
  Status s;
  s.rep_ = std::make_shared<const Rep>(Rep{rep_->code, rep_->errnum, context + ": " + rep_->message});
  return s;
}

}  // namespace umd
