// The command line (cli/args.h): the fuzzer's bytes, split at NUL bytes, are argv[1..].
// parse_args must answer every argv with Args or one usage error, never throw or crash.
#include <cstdint>
#include <string>
#include <vector>

#include "cli/args.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> words{"umd"};
  std::string cur;
  for (size_t i = 0; i < size; i++) {
    if (data[i] == 0) {
      words.push_back(cur);
      cur.clear();
    } else {
      cur += char(data[i]);
    }
  }
  if (!cur.empty()) words.push_back(cur);
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  bool exit_now = false;
  auto r = umd::cli::parse_args(int(words.size()), argv.data(), &exit_now);
  if (!r.is_ok()) FUZZ_CHECK(!r.status().message().empty());
  return 0;
}
