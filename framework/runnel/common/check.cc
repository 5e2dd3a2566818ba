#include "runnel/common/check.h"

#include <cstdio>
#include <cstdlib>

#include "spdlog/spdlog.h"

namespace runnel::common::internal {

CheckFailure::CheckFailure(const char* condition, const char* file, int line) {
  stream_ << file << ":" << line << ": check failed: " << condition << " ";
}

CheckFailure::~CheckFailure() {
  spdlog::critical("{}", stream_.str());
  spdlog::shutdown();
  std::fprintf(stderr, "%s\n", stream_.str().c_str());
  std::abort();
}

}  // namespace runnel::common::internal
