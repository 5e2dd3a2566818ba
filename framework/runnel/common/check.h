#ifndef RUNNEL_COMMON_CHECK_H_
#define RUNNEL_COMMON_CHECK_H_

// RUNNEL_CHECK(cond) << "why";  logs the message and aborts when `cond` is
// false. For invariants that cannot fail ("cannot happen"), never for user
// input or I/O errors, which return a Status.

#include <sstream>
#include <string_view>

namespace runnel::common::internal {

class CheckFailure {
 public:
  CheckFailure(const char* condition, const char* file, int line);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Lets `RUNNEL_CHECK(x) << ...` be a single expression of type void.
struct CheckVoidify {
  void operator&(CheckFailure&) {}
};

}  // namespace runnel::common::internal

#define RUNNEL_CHECK(condition)                      \
  (condition) ? (void)0                              \
              : ::runnel::common::internal::CheckVoidify() & \
                    ::runnel::common::internal::CheckFailure(#condition, __FILE__, __LINE__)

#endif  // RUNNEL_COMMON_CHECK_H_
