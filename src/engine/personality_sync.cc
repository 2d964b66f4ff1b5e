// What every level's sync shares: issuing a step's member I/Os together.
#include <condition_variable>
#include <mutex>

#include "engine/personality_impl.h"

namespace umd::engine {

void run_ios(PersonalityBase& p, std::vector<MemberIo>& ios) {
  std::mutex mu;
  std::condition_variable cv;
  size_t pending = ios.size();
  for (MemberIo& m : ios) {
    issue_io(p.member(m.slot), m.op, false, m.offset, m.length, m.buf, [&, mp = &m](Status s) {
      std::lock_guard l(mu);
      mp->st = std::move(s);
      if (--pending == 0) cv.notify_all();
    });
  }
  std::unique_lock l(mu);
  cv.wait(l, [&] { return pending == 0; });
}

}  // namespace umd::engine
