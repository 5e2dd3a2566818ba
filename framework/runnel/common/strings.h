#ifndef RUNNEL_COMMON_STRINGS_H_
#define RUNNEL_COMMON_STRINGS_H_

// Debian's Abseil (20220623) is built with ABSL_OPTION_USE_STD_STRING_VIEW=0:
// absl::string_view is its own class, and absl's string functions
// (StrCat, StrSplit, Strip*, SimpleAtoi, ...) do not take std::string_view.
// Runnel's interfaces use std::string_view (DESIGN.md 5.9); these two
// functions cross the boundary without copying.
//
// Also: edit distance and the nearest of a set of strings, for "did you
// mean" suggestions (unknown config keys, store names).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace runnel {

inline absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

// Optimal-string-alignment edit distance: the fewest single-character
// insertions, deletions, substitutions and swaps of two neighbours that turn
// `a` into `b` (so "thraeds" is 1 from "threads"). O(|a|·|b|) time.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate nearest to `word` by EditDistance, if it is at most
// `max_distance` away and not `word` itself; ties go to the first candidate.
std::optional<std::string> Nearest(std::string_view word, const std::vector<std::string>& candidates,
                                   size_t max_distance);
// The distance a typo of `word` may be from what was meant: a third of its
// length, at least 2.
inline size_t TypoDistance(std::string_view word) { return word.size() / 3 > 2 ? word.size() / 3 : 2; }

}  // namespace runnel

#endif  // RUNNEL_COMMON_STRINGS_H_
