#include "runnel/common/status.h"

#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel {

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(ToAbsl(context), ": ", status.message()));
}

}  // namespace runnel
