#ifndef RUNNEL_COMMON_STRINGS_H_
#define RUNNEL_COMMON_STRINGS_H_

// Debian's Abseil (20220623) is built with ABSL_OPTION_USE_STD_STRING_VIEW=0:
// absl::string_view is its own class, and absl's string functions
// (StrCat, StrSplit, Strip*, SimpleAtoi, ...) do not take std::string_view.
// Runnel's interfaces use std::string_view (DESIGN.md 5.9); these two
// functions cross the boundary without copying.

#include <string_view>

#include "absl/strings/string_view.h"

namespace runnel {

inline absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace runnel

#endif  // RUNNEL_COMMON_STRINGS_H_
