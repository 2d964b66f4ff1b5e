#include "io/member.h"

namespace umd::io {

void Member::submit(IoRequest& req) {
  Status s;
  switch (req.op) {
    case IoOp::read: s = read(req.offset, {req.buf, req.length}); break;
    case IoOp::write: s = write(req.offset, {req.buf, req.length}, req.fua); break;
    case IoOp::flush: s = flush(); break;
    case IoOp::discard: s = discard(req.offset, req.length); break;
  }
  req.done(std::move(s));
}

}  // namespace umd::io
