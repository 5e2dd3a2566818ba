#include "runnel/common/status.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel {

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  absl::Status annotated(status.code(), absl::StrCat(ToAbsl(context), ": ", status.message()));
  // Payloads say what kind of error it is (processor/processing_error.h):
  // context must not lose that.
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { annotated.SetPayload(url, payload); });
  return annotated;
}

}  // namespace runnel
