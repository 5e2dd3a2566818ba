#ifndef RUNNEL_TESTS_FUZZ_FUZZ_CHECK_H_
#define RUNNEL_TESTS_FUZZ_FUZZ_CHECK_H_

// FUZZ_CHECK(cond, what): a property a decoder must keep for every input.
// A violation prints `what` and aborts, which libFuzzer reports as a crash
// and saves the input (crash-<sha1>). Not RUNNEL_CHECK: that one is for the
// framework's own invariants and logs through spdlog.

#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond, what)                                                              \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: property violated: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   std::string(what).c_str());                                              \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)

namespace runnel::fuzz {

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace runnel::fuzz

#endif  // RUNNEL_TESTS_FUZZ_FUZZ_CHECK_H_
