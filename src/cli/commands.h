// One function per mode. Each returns the process exit status: 0 success, 1 failure of
// the operation (after printing one line naming the problem), 2 usage error.
#pragma once

#include "cli/args.h"

namespace umd::cli {

int cmd_create(const Args& a);
int cmd_examine(const Args& a);
int cmd_zero_superblock(const Args& a);
int cmd_dump(const Args& a);
int cmd_assemble(const Args& a);
int cmd_stop(const Args& a);
int cmd_detail(const Args& a);
int cmd_status(const Args& a);
int cmd_manage(const Args& a);
int cmd_action(const Args& a);
int cmd_attr(const Args& a);
int cmd_monitor(const Args& a);
int cmd_grow(const Args& a);

// 0 when a daemon holds NAME; else prints "NAME is not assembled" and returns 1.
int check_assembled(const std::string& name);
// fail() for the daemon's refusal, naming the array when its message does not already.
int fail_for(const std::string& name, const Status& s);

// Prints "umd: <message>" on stderr and returns the exit status for the error kind.
int fail(const Status& s);
int usage_error(const std::string& message);

}  // namespace umd::cli
